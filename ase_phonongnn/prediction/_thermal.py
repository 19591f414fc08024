r"""Thermal averages by sampling: ⟨Eg⟩(T), ⟨VBM⟩(T), ⟨σh⟩(T), ⟨E⟩(T).

At each temperature T, ``n_snapshots`` independent thermal snapshots are
drawn from the phonons (:class:`~ase_phonongnn.sample.PhononSampler`), the
model predicts each, and the thermal average of a property A is estimated as
the snapshot mean

.. math:: \langle A\rangle_T \approx \frac1n\sum_{s=1}^{n} A(\mathbf{u}_s),
          \qquad \mathbf{u}_s \sim p_T(\mathbf{u}),

with standard error :math:`s_A/\sqrt n` (the snapshots are independent
draws, unlike MD frames, which need :func:`block_average`). This is the
Monte Carlo route of Zacharias & Giustino (PRB 94, 075125 (2016)) to
phonon-renormalised electronic properties, with the model in place of DFT.

In a strongly anharmonic crystal the effective phonons depend on
temperature: force constants renormalised at T describe the ensemble at T
(the soft modes stiffen on heating), and those of another temperature sample
it too widely or too narrowly. Given force constants renormalised at several
temperatures, each T is sampled from the nearest of them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import torch
from numpy.typing import ArrayLike, NDArray
from tqdm.auto import tqdm

from ase_phonongnn import keys
from ase_phonongnn._config import keyword_config
from ase_phonongnn.prediction._batch import iter_predictions
from ase_phonongnn.prediction._config import PredictionConfig
from ase_phonongnn.prediction._models import STD_SUFFIX, Committee, ModelSpec
from ase_phonongnn.sample import SamplingConfig, SnapshotSampler, nearest_sampler

#: thermal_averages' defaults of the SamplingConfig settings it takes as keywords.
_SAMPLING_DEFAULTS: Final = {
    "method": "normal-mode",
    "statistics": "quantum",
    "imaginary": "error",
    "amplitude": None,
}
#: Properties averaged by default, those the model gives, in this order.
THERMAL_PROPERTIES: Final = (
    keys.BAND_GAP,
    keys.VBM,
    keys.HYDROSTATIC_STRESS,
    keys.ENERGY_PER_ATOM,
    keys.ENERGY,
)


@dataclass(frozen=True)
class ThermalAverages:
    r"""Snapshot averages of predicted properties at several temperatures.

    Attributes
    ----------
    temperatures
        K, shape (n_T,).
    mean, error, std
        ``{property: (n_T,)}``: the mean over the snapshots, its standard
        error :math:`s/\sqrt n`, and the spread s of the snapshot values
        (``ddof=1``; NaN for one snapshot), in the property's unit
        (:data:`ase_phonongnn.keys.UNITS`).
    values
        ``{property: (n_T, n_snapshots)}``, the prediction for every snapshot.
    n_snapshots
        Snapshots per temperature.
    method, seed
        Sampling method and the seed of the sampler.
    models
        The model files (or descriptions) used.
    sampled_from
        With samplers given per temperature: the key (K) of the sampler each
        temperature was drawn from, shape (n_T,); empty for one sampler.
    model_spread
        A committee's: ``{property: (n_T,)}``, the mean over the snapshots
        of its (calibrated) spread. The members' errors are shared by the
        snapshots, so this is the model's uncertainty of each average, which
        more snapshots do not shrink; empty for one model.
    """

    temperatures: NDArray[np.float64]
    mean: dict[str, NDArray[np.float64]]
    error: dict[str, NDArray[np.float64]]
    std: dict[str, NDArray[np.float64]]
    values: dict[str, NDArray[np.float64]] = field(repr=False)
    n_snapshots: int
    method: str
    seed: int | None
    models: tuple[str, ...] = ()
    sampled_from: tuple[float, ...] = ()
    model_spread: dict[str, NDArray[np.float64]] = field(default_factory=dict)

    @property
    def properties(self) -> tuple[str, ...]:
        """The averaged properties."""
        return tuple(self.mean)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (NaN as None), with units."""

        def clean(array: NDArray[np.float64]) -> list[Any]:
            return [None if not math.isfinite(x) else float(x) for x in array.ravel()]

        return {
            "temperatures": self.temperatures.tolist(),
            "n_snapshots": self.n_snapshots,
            "method": self.method,
            "seed": self.seed,
            "models": list(self.models),
            "sampled_from": list(self.sampled_from),
            "units": {p: keys.UNITS.get(p, "") for p in self.properties},
            "mean": {p: clean(v) for p, v in self.mean.items()},
            "error": {p: clean(v) for p, v in self.error.items()},
            "std": {p: clean(v) for p, v in self.std.items()},
            "model_spread": {p: clean(v) for p, v in self.model_spread.items()},
        }

    def plot(self, path: str | os.PathLike[str]) -> Path:
        """Write the averages against T to a PNG (:func:`plot_thermal_averages`)."""
        return plot_thermal_averages(self, path)


def thermal_averages(
    model: ModelSpec | Committee,
    sampler: SnapshotSampler | Mapping[float, SnapshotSampler],
    temperatures: float | ArrayLike,
    n_snapshots: int,
    *,
    method: str = "normal-mode",
    statistics: str = "quantum",
    imaginary: str = "error",
    amplitude: float | None = None,
    seed: int | None = 0,
    properties: Iterable[str] | None = None,
    batch_size: int | None = None,
    device: str | torch.device = "auto",
    progress: bool = False,
    sampling: SamplingConfig | None = None,
    config: PredictionConfig | None = None,
) -> ThermalAverages:
    """Sample thermal snapshots at each temperature, predict, and average.

    Parameters
    ----------
    model
        As in :func:`~ase_phonongnn.prediction.predict` (path, ``"gfn2-xtb"``,
        loaded model or committee).
    sampler
        The phonons of the supercell to sample, or ``{T_fc: sampler}`` with
        force constants renormalised at several temperatures T_fc (K): each
        temperature is then sampled from the nearest (:func:`nearest_sampler`);
        or a :class:`~ase_phonongnn.sample.SolidSolutionSampler`, which draws
        a new occupation for every snapshot.
    temperatures
        K, one or several, each > 0.
    n_snapshots
        Independent snapshots per temperature (>= 2 for an error bar).
    method, statistics, imaginary, amplitude
        Passed to :meth:`PhononSampler.sample`.
    seed
        Seed of the sampler (the snapshots at T depend only on seed and T);
        None draws one.
    properties
        Properties to average; default every one of band gap, VBM,
        hydrostatic stress, energy per atom and energy that the model gives.
    batch_size, device
        As in :func:`~ase_phonongnn.prediction.predict`.
    progress
        Show one progress bar over every temperature's snapshots.
    sampling
        The sampling settings as one :class:`~ase_phonongnn.sample.SamplingConfig`
        (then ``plus_minus`` and ``min_distance`` apply too), instead of
        ``method``, ``statistics``, ``imaginary`` and ``amplitude`` (not both).
    config
        Properties, batch size, device, dtype and progress as one
        :class:`~ase_phonongnn.prediction.PredictionConfig`, instead of their
        keywords (not both).

    Returns
    -------
    ThermalAverages
    """
    if isinstance(sampler, Mapping):
        bad = [
            type(s).__name__
            for s in sampler.values()
            if not isinstance(s, SnapshotSampler)
        ]
        if bad or not sampler:
            raise TypeError(
                "sampler must be a PhononSampler or SolidSolutionSampler, or a "
                f"non-empty {{temperature: PhononSampler}} (got values {bad})"
            )
    elif not isinstance(sampler, SnapshotSampler):
        raise TypeError(
            "sampler must be a PhononSampler or SolidSolutionSampler (got "
            f"{type(sampler).__name__})"
        )
    sampling = keyword_config(
        SamplingConfig,
        sampling,
        {
            "method": method,
            "statistics": statistics,
            "imaginary": imaginary,
            "amplitude": amplitude,
        },
        defaults=_SAMPLING_DEFAULTS,
    )
    config = keyword_config(
        PredictionConfig,
        config,
        {
            "properties": properties,
            "batch_size": batch_size,
            "device": device,
            "progress": progress,
        },
    )
    properties, progress = config.properties, config.progress
    temps = np.atleast_1d(np.asarray(temperatures, dtype=np.float64))
    if temps.ndim != 1 or temps.size == 0:
        raise ValueError(f"temperatures must be a list of K (got {temperatures!r})")
    committee = (
        model
        if isinstance(model, Committee)
        else Committee.load(model, config.device, dtype=config.dtype)
    )
    if properties is None:
        names: list[str] = [p for p in THERMAL_PROPERTIES if p in committee.properties]
        if not names:
            raise ValueError(
                "the model gives none of "
                f"{', '.join(THERMAL_PROPERTIES)}; nothing to average"
            )
    else:
        names = list(committee.check_properties(properties))
        per_atom = [p for p in names if p in (keys.FORCES, keys.STRESS)]
        if per_atom:
            raise ValueError(
                f"thermal averages are of scalars; drop {', '.join(per_atom)}"
            )
    values: dict[str, NDArray[np.float64]] = {
        p: np.full((temps.size, n_snapshots), np.nan) for p in names
    }
    spreads = {p: np.full((temps.size, n_snapshots), np.nan) for p in names}
    used_seed: int | None = seed
    sampled_from: list[float] = []
    bar = tqdm(
        total=temps.size * n_snapshots,
        desc="thermal averages",
        unit="snapshot",
        disable=not progress,
    )
    source: SnapshotSampler
    for t, temperature in enumerate(temps):
        bar.set_postfix_str(f"{float(temperature):g} K")
        if isinstance(sampler, Mapping):
            key, source = nearest_sampler(sampler, float(temperature))
            sampled_from.append(key)
        else:
            source = sampler
        snapshots = source.sample_config(
            float(temperature), n_snapshots, sampling, seed=seed
        )
        if snapshots:
            used_seed = snapshots[0].info.get(keys.SEED, seed)
        predictions = iter_predictions(
            committee,
            snapshots,
            batch_size=config.batch_size,
            properties=names,
            progress=False,
        )
        for s, (_, results) in enumerate(predictions):
            for p in names:
                values[p][t, s] = results[p]
                spreads[p][t, s] = results.get(p + STD_SUFFIX, np.nan)
            bar.update(1)
    bar.close()
    mean: dict[str, NDArray[np.float64]] = {
        p: v.mean(axis=1) for p, v in values.items()
    }
    std: dict[str, NDArray[np.float64]]
    if n_snapshots > 1:
        std = {p: v.std(axis=1, ddof=1) for p, v in values.items()}
    else:
        std = {p: np.full(temps.size, np.nan) for p in names}
    error: dict[str, NDArray[np.float64]] = {
        p: s / math.sqrt(n_snapshots) for p, s in std.items()
    }
    return ThermalAverages(
        temperatures=temps,
        mean=mean,
        error=error,
        std=std,
        values=values,
        n_snapshots=int(n_snapshots),
        method=sampling.method,
        seed=None if used_seed is None else int(used_seed),
        models=committee.sources,
        sampled_from=tuple(sampled_from),
        model_spread={
            p: v.mean(axis=1) for p, v in spreads.items() if np.isfinite(v).all()
        },
    )


def plot_thermal_averages(
    result: ThermalAverages | Mapping[str, ThermalAverages],
    path: str | os.PathLike[str],
    *,
    properties: Sequence[str] | None = None,
) -> Path:
    """Plot thermal averages with their standard errors against temperature.

    One panel per property: the mean with error bars (standard error of the
    mean) and a band of ± one snapshot standard deviation. Drawn on
    matplotlib's Agg canvas (no display needed), written as PNG.

    Parameters
    ----------
    result
        From :func:`thermal_averages`, or ``{label: result}`` to draw several
        (e.g. materials) side by side, one series each, with a legend.
    path
        Output ``.png``.
    properties
        Panels to draw (default all of the first result's).

    Returns
    -------
    Path
        The file written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    series = dict(result) if isinstance(result, Mapping) else {"": result}
    if not series:
        raise ValueError("result is empty: give at least one ThermalAverages")
    first = next(iter(series.values()))
    names = list(first.properties if properties is None else properties)
    unknown = [p for r in series.values() for p in names if p not in r.mean]
    if unknown or not names:
        raise ValueError(
            f"properties must be some of {', '.join(first.properties)} (got {names})"
        )
    figure = Figure(figsize=(3.6 * len(names), 3.4), layout="constrained")
    axes = figure.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names, strict=True):
        for label, average in series.items():
            t = average.temperatures
            mean, error = average.mean[name], average.error[name]
            std = average.std[name]
            line = ax.errorbar(
                t, mean, yerr=error, marker="o", capsize=3, label=label or None
            )
            if np.isfinite(std).any():
                ax.fill_between(
                    t,
                    mean - std,
                    mean + std,
                    alpha=0.2,
                    linewidth=0,
                    color=line.lines[0].get_color(),
                )
        ax.set_xlabel("T (K)")
        found = keys.PROPERTY_TABLE.get(name)
        symbol = name if found is None else found.mean_symbol(tex=True)
        ax.set_ylabel(f"{symbol} ({keys.UNITS.get(name, '')})")
    if len(series) > 1:
        axes[0].legend(fontsize=8)
    figure.suptitle(
        f"{first.method} sampling, {first.n_snapshots} snapshots per T"
        f"{'' if len(first.models) < 2 else f', {len(first.models)} models'}"
    )
    target = Path(path)
    FigureCanvasAgg(figure)
    figure.savefig(target, dpi=120, format="png")
    return target
