"""Thermal averages across the solid solutions Ag3SBr_x I_(1-x): A(T, x).

:func:`composition_map` runs :func:`~ase_phonongnn.prediction.thermal_averages`
at each bromine fraction x with a
:class:`~ase_phonongnn.sample.SolidSolutionSampler` (a new occupation for every
snapshot), so that each ⟨A⟩(T, x) averages over occupations and thermal
displacements together; :class:`CompositionMap` holds the grid, its standard
errors and the committee's spread, and draws the map and the composition
bowing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from tqdm.auto import tqdm

from ase_phonongnn import keys
from ase_phonongnn.prediction._models import Committee, ModelSpec
from ase_phonongnn.prediction._thermal import ThermalAverages, thermal_averages
from ase_phonongnn.sample import SolidSolutionSampler


@dataclass(frozen=True)
class CompositionMap:
    """Thermal averages on a grid of bromine fractions and temperatures.

    Attributes
    ----------
    fractions
        The bromine fractions x as realised on the supercell, shape (n_x,).
    averages
        One :class:`~ase_phonongnn.prediction.ThermalAverages` per fraction,
        on the same temperatures.
    """

    fractions: NDArray[np.float64]
    averages: tuple[ThermalAverages, ...]

    @property
    def temperatures(self) -> NDArray[np.float64]:
        """K, shape (n_T,)."""
        return self.averages[0].temperatures

    def grid(self, prop: str, what: str = "mean") -> NDArray[np.float64]:
        """Return ``what`` of ``prop`` as an (n_x, n_T) array.

        Parameters
        ----------
        prop
            A property of the averages, e.g. ``"band_gap"``.
        what
            "mean", "error" (standard error of the mean), "std" (spread of
            the snapshots) or "model_spread" (the committee's; NaN for one
            model).
        """
        if what not in ("mean", "error", "std", "model_spread"):
            raise ValueError(
                f"what must be mean, error, std or model_spread (got {what!r})"
            )
        if prop not in self.averages[0].mean:
            raise ValueError(
                f"prop must be one of {', '.join(self.averages[0].properties)} "
                f"(got {prop!r})"
            )
        rows = []
        for average in self.averages:
            table: dict[str, NDArray[np.float64]] = getattr(average, what)
            rows.append(table.get(prop, np.full(average.temperatures.size, np.nan)))
        return np.array(rows)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict: the fractions and each fraction's averages."""
        return {
            "bromine_fractions": self.fractions.tolist(),
            "averages": [a.to_dict() for a in self.averages],
        }

    def table(self, prop: str = keys.BAND_GAP) -> str:
        """Return ⟨prop⟩ ± standard error as text: one row per x, a column per T.

        Where the model is a committee, a last column gives its spread of
        ⟨prop⟩ (the largest over T).
        """
        mean, error = self.grid(prop), self.grid(prop, "error")
        spread = self.grid(prop, "model_spread")
        found = keys.PROPERTY_TABLE.get(prop)
        symbol = prop if found is None else found.mean_symbol()
        header = f"{symbol} ({keys.UNITS.get(prop, '')})  x \\ T (K)"
        lines = [
            f"{header:<22}"
            + "".join(f"{t:>16.0f}" for t in self.temperatures)
            + ("" if np.isnan(spread).all() else f"{'model ±':>10}")
        ]
        for i, x in enumerate(self.fractions):
            row = f"{x:<22.3f}" + "".join(
                f"{f'{m:.3f} ± {e:.3f}':>16}"
                for m, e in zip(mean[i], error[i], strict=True)
            )
            if not np.isnan(spread).all():
                row += f"{np.nanmax(spread[i]):>10.3f}"
            lines.append(row)
        return "\n".join(lines)

    def plot(self, path: str | os.PathLike[str], prop: str = keys.BAND_GAP) -> Path:
        """Draw ⟨prop⟩(T, x) as a map and against x at each T, to a PNG.

        Left: the map, with contour lines. Right: the composition bowing,
        ⟨prop⟩ against x per temperature with the standard error as error
        bars and the committee's spread as a band.
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        mean = self.grid(prop)
        error = self.grid(prop, "error")
        spread = self.grid(prop, "model_spread")
        found = keys.PROPERTY_TABLE.get(prop)
        symbol = prop if found is None else found.mean_symbol(tex=True)
        label = f"{symbol} ({keys.UNITS.get(prop, '')})"
        figure = Figure(figsize=(10.0, 3.8), layout="constrained")
        left, right = figure.subplots(1, 2)
        t, x = self.temperatures, self.fractions
        mesh = left.pcolormesh(t, x, mean, shading="nearest", cmap="viridis")
        if t.size > 1 and x.size > 1:
            contours = left.contour(t, x, mean, colors="white", linewidths=0.8)
            left.clabel(contours, fontsize=7, fmt="%.2f")
        figure.colorbar(mesh, ax=left, label=label)
        left.set_xlabel("T (K)")
        left.set_ylabel("bromine fraction x")
        cmap = _temperature_colours(t)
        for j, temperature in enumerate(t):
            colour = cmap(j)
            if np.isfinite(spread[:, j]).all():
                right.fill_between(
                    x,
                    mean[:, j] - spread[:, j],
                    mean[:, j] + spread[:, j],
                    color=colour,
                    alpha=0.12,
                    linewidth=0,
                )
            right.errorbar(
                x,
                mean[:, j],
                yerr=error[:, j],
                color=colour,
                marker="o",
                markersize=3,
                capsize=2,
                label=f"{temperature:.0f} K",
            )
        right.set_xlabel("bromine fraction x")
        right.set_ylabel(label)
        right.legend(fontsize=7, ncols=2)
        average = self.averages[0]
        figure.suptitle(
            f"Ag3SBr$_x$I$_{{1-x}}$: {average.method} sampling, "
            f"{average.n_snapshots} snapshots per (T, x)"
            + ("" if np.isnan(spread).all() else "; bands: the committee's spread")
        )
        target = Path(path)
        FigureCanvasAgg(figure)
        figure.savefig(target, dpi=120, format="png")
        return target


def _temperature_colours(temperatures: NDArray[np.float64]) -> Callable[[int], Any]:
    from matplotlib import colormaps

    cmap = colormaps["plasma"]
    n = max(temperatures.size - 1, 1)
    return lambda j: cmap(0.85 * j / n)


def composition_map(
    model: ModelSpec | Committee,
    fractions: Sequence[float] | ArrayLike,
    temperatures: float | ArrayLike,
    n_snapshots: int,
    *,
    samplers: Callable[[float], SolidSolutionSampler] = SolidSolutionSampler.shipped,
    imaginary: str = "floor:0.5",
    seed: int | None = 0,
    device: str | torch.device = "auto",
    progress: bool = False,
    **sampling: Any,
) -> CompositionMap:
    """Thermal averages at each bromine fraction x and temperature T.

    Parameters
    ----------
    model
        As in :func:`~ase_phonongnn.prediction.thermal_averages`; it must
        cover Ag, S, Br and I (e.g. ``"pbesol"``).
    fractions
        Bromine fractions x in [0, 1] (each rounded to the supercell's
        halogen sites, eighths on 2×2×2).
    temperatures
        K.
    n_snapshots
        Snapshots (each its own occupation) per (T, x).
    samplers
        Returns the sampler of a fraction (default: the end members' shipped
        force constants, :meth:`SolidSolutionSampler.shipped`).
    imaginary
        The imaginary-mode policy (default ``floor:0.5``, the one the shipped
        force constants were renormalised with).
    seed
        Seed of every fraction's sampler.
    device
        As in :func:`~ase_phonongnn.prediction.predict`.
    progress
        One progress bar over the fractions.
    **sampling
        Further keywords of :func:`thermal_averages` (``method``,
        ``statistics``, ``properties``, ``batch_size``).

    Returns
    -------
    CompositionMap
    """
    values = np.atleast_1d(np.asarray(fractions, dtype=np.float64))
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"fractions must be a list of x in [0, 1] (got {fractions!r})")
    committee = model if isinstance(model, Committee) else Committee.load(model, device)
    averages, realised = [], []
    for x in tqdm(values, desc="composition map", unit="x", disable=not progress):
        sampler = samplers(float(x))
        realised.append(sampler.bromine_fraction)
        averages.append(
            thermal_averages(
                committee,
                sampler,
                temperatures,
                n_snapshots,
                imaginary=imaginary,
                seed=seed,
                **sampling,
            )
        )
    if len(set(realised)) < len(realised):
        raise ValueError(
            f"fractions {values.tolist()} round to the same occupations "
            f"{realised} on the supercell: give distinct ones"
        )
    order = np.argsort(realised)
    return CompositionMap(
        fractions=np.asarray(realised, dtype=np.float64)[order],
        averages=tuple(averages[i] for i in order),
    )


#: The fractions of a 2×2×2 supercell's eight halogen sites, 0 … 1.
EIGHTHS = tuple(k / 8 for k in range(9))
