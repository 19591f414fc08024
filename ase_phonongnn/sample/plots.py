"""Phonon dispersion plots: harmonic against renormalised bands.

Bands come from phonopy's band-structure API along one q-path shared by every
phonon (they must have the same primitive cell). Imaginary frequencies are
drawn as negative numbers, phonopy's convention. The figure is drawn with
matplotlib's Agg canvas directly, without pyplot and its global state.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray
from phonopy import Phonopy

from ase_phonongnn.sample._phonopy import load_phonopy

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: Labelled q-point, reduced coordinates of the primitive reciprocal lattice.
LabelledPoint = tuple[str, ArrayLike]
#: Continuous pieces of a path; a jump separates consecutive pieces.
QPath = Sequence[Sequence[LabelledPoint]]

_G: Final = (0.0, 0.0, 0.0)
_X: Final = (0.0, 0.5, 0.0)
_M: Final = (0.5, 0.5, 0.0)
_R: Final = (0.5, 0.5, 0.5)
#: Simple cubic path Γ–X–M–Γ–R–X|M–R.
CUBIC_PATH: Final[QPath] = (
    (("Γ", _G), ("X", _X), ("M", _M), ("Γ", _G), ("R", _R), ("X", _X)),
    (("M", _M), ("R", _R)),
)


@dataclass(frozen=True)
class DispersionBands:
    """Bands of several phonons along one q-path.

    Attributes
    ----------
    qpoints
        Per segment, reduced coordinates, shape (n_points, 3).
    distances
        Per segment, position along the plot axis, 1/Å (without 2π),
        shape (n_points,); no gap at a jump between pieces.
    frequencies
        Per phonon label, per segment, THz (imaginary negative), shape
        (n_points, n_bands).
    ticks
        (distance, label) of the segment ends; "X|M" marks a jump.
    """

    qpoints: list[NDArray[np.float64]]
    distances: list[NDArray[np.float64]]
    frequencies: dict[str, list[NDArray[np.float64]]]
    ticks: list[tuple[float, str]]


def dispersion_bands(
    phonons: Mapping[str, Phonopy | str | Path],
    qpath: str | QPath = "auto",
    n_points: int = 51,
) -> DispersionBands:
    """Compute the bands of every phonon along one q-path.

    Parameters
    ----------
    phonons
        Label -> Phonopy object or phonopy_params.yaml, all with the same
        primitive cell.
    qpath
        ``auto`` (``cubic`` for a simple cubic primitive lattice, else
        ``seekpath``), ``cubic`` (Γ–X–M–Γ–R–X|M–R), ``seekpath`` (the standard
        path of seekpath, converted to the reduced coordinates of the given
        primitive cell) or explicit pieces of labelled points.
    n_points
        q-points per segment, end points included.
    """
    if not phonons:
        raise ValueError("phonons is empty: give at least one {label: phonon}")
    if n_points < 2:
        raise ValueError(f"n_points must be >= 2 (got {n_points})")
    loaded = {label: load_phonopy(p) for label, p in phonons.items()}
    first_label, first = next(iter(loaded.items()))
    cell = np.asarray(first.primitive.cell)
    for label, phonon in loaded.items():
        if not np.allclose(np.asarray(phonon.primitive.cell), cell, atol=1e-5):
            raise ValueError(
                f"phonons[{label!r}] has another primitive cell than "
                f"phonons[{first_label!r}]: dispersions share one q-path"
            )
    pieces = _resolve_path(first, qpath)
    qpoints: list[NDArray[np.float64]] = []
    ticks: list[tuple[float, str]] = []
    distances: list[NDArray[np.float64]] = []
    reciprocal = np.linalg.inv(cell).T  # rows, 1/Å without 2π
    position = 0.0
    for p, piece in enumerate(pieces):
        start_label = piece[0][0]
        if p == 0:
            ticks.append((0.0, start_label))
        else:
            ticks[-1] = (ticks[-1][0], f"{ticks[-1][1]}|{start_label}")
        for (_, q_start), (end_label, q_end) in itertools.pairwise(piece):
            q = np.linspace(
                np.asarray(q_start, float), np.asarray(q_end, float), n_points
            )
            step = np.linalg.norm(np.diff(q @ reciprocal, axis=0), axis=1)
            distances.append(position + np.concatenate([[0.0], np.cumsum(step)]))
            position = float(distances[-1][-1])
            qpoints.append(q)
            ticks.append((position, end_label))
    frequencies = {}
    for label, phonon in loaded.items():
        phonon.run_band_structure(qpoints)
        structure = phonon.band_structure
        if structure is None:  # pragma: no cover - run_band_structure sets it
            raise RuntimeError("phonopy returned no band structure")
        frequencies[label] = [np.asarray(f) for f in structure.frequencies]
    return DispersionBands(qpoints, distances, frequencies, ticks)


def plot_dispersions(
    phonons: Mapping[str, Phonopy | str | Path],
    path: str | Path,
    *,
    qpath: str | QPath = "auto",
    n_points: int = 51,
    title: str | None = None,
    dpi: int = 150,
) -> DispersionBands:
    """Plot the dispersions of several phonons on one figure and save a PNG.

    Parameters
    ----------
    phonons
        Label -> Phonopy object or phonopy_params.yaml (e.g. ``{"harmonic":
        h, "300 K": r}``), drawn in this order with distinct colours.
    path
        PNG file to write.
    qpath, n_points
        See :func:`dispersion_bands`.
    title
        Figure title.
    dpi
        Resolution; the figure is 6.4 × 4.8 inches.

    Returns
    -------
    DispersionBands
        The plotted data.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    bands = dispersion_bands(phonons, qpath, n_points)
    figure = Figure(figsize=(6.4, 4.8))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    draw_dispersions(bands, axes)
    if title:
        axes.set_title(title)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi)
    return bands


def draw_dispersions(bands: DispersionBands, axes: Axes) -> None:
    """Draw bands on matplotlib axes: one colour and line style per phonon.

    Parameters
    ----------
    bands
        From :func:`dispersion_bands`.
    axes
        Where to draw; gets ticks at the path's points, a zero line and a
        legend with one entry per phonon.
    """
    styles = ("--", "-", "-.", ":")
    for k, (label, per_segment) in enumerate(bands.frequencies.items()):
        for s, (x, f) in enumerate(zip(bands.distances, per_segment, strict=True)):
            lines = axes.plot(
                x, f, color=f"C{k}", linestyle=styles[k % len(styles)], linewidth=1.0
            )
            if s == 0:
                lines[0].set_label(label)
    positions, labels = zip(*bands.ticks, strict=True)
    for x in positions[1:-1]:
        axes.axvline(x, color="0.7", linewidth=0.6)
    axes.axhline(0.0, color="0.4", linewidth=0.6)
    axes.set_xticks(positions, labels)
    axes.set_xlim(positions[0], positions[-1])
    axes.set_ylabel("Frequency (THz; imaginary < 0)")
    axes.legend(frameon=False)


def _resolve_path(
    phonon: Phonopy, qpath: str | QPath
) -> list[list[tuple[str, NDArray[np.float64]]]]:
    if isinstance(qpath, str):
        if qpath == "auto":
            qpath = "cubic" if _is_simple_cubic(phonon) else "seekpath"
        if qpath == "cubic":
            return [[(name, np.array(q)) for name, q in piece] for piece in CUBIC_PATH]
        if qpath == "seekpath":
            return _seekpath(phonon)
        raise ValueError(
            f"qpath must be auto, cubic, seekpath or a list of pieces of "
            f"(label, q) points (got {qpath!r})"
        )
    pieces = []
    for piece in qpath:
        points = [(str(name), np.asarray(q, dtype=float)) for name, q in piece]
        if len(points) < 2 or any(q.shape != (3,) for _, q in points):
            raise ValueError(
                "each piece of qpath needs at least two (label, (qx, qy, qz)) "
                f"points (got {piece!r})"
            )
        pieces.append(points)
    if not pieces:
        raise ValueError("qpath is empty")
    return pieces


def _is_simple_cubic(phonon: Phonopy) -> bool:
    cell = np.asarray(phonon.primitive.cell)
    lengths = np.linalg.norm(cell, axis=1)
    metric = cell @ cell.T
    return bool(
        np.allclose(metric, np.diag(lengths**2), atol=1e-6 * lengths.max() ** 2)
        and np.allclose(lengths, lengths[0], rtol=1e-6)
    )


def _seekpath(phonon: Phonopy) -> list[list[tuple[str, NDArray[np.float64]]]]:
    """Return the path of seekpath in the reduced coordinates of our primitive cell."""
    try:
        import seekpath
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError(
            "qpath='seekpath' needs seekpath (pip install seekpath); or pass "
            "qpath='cubic' or explicit points"
        ) from err
    primitive = phonon.primitive
    cell = np.asarray(primitive.cell)
    result = seekpath.get_path(
        (cell, np.asarray(primitive.scaled_positions), np.asarray(primitive.numbers))
    )
    reciprocal = np.asarray(result["reciprocal_primitive_lattice"])  # rows, with 2π
    rotation = np.asarray(result["rotation_matrix"])

    def ours(q: ArrayLike) -> NDArray[np.float64]:
        # seekpath's Cartesian frame is ours rotated by R: q_ours = Rᵀ q_std.
        cartesian = (np.asarray(q) @ reciprocal) @ rotation
        return np.asarray(cartesian @ cell.T / (2 * np.pi))

    coords = result["point_coords"]
    pieces: list[list[tuple[str, NDArray[np.float64]]]] = []
    for start, end in result["path"]:
        names = [_label(start), _label(end)]
        if pieces and pieces[-1][-1][0] == names[0]:
            pieces[-1].append((names[1], ours(coords[end])))
        else:
            pieces.append(
                [(names[0], ours(coords[start])), (names[1], ours(coords[end]))]
            )
    return pieces


def _label(name: str) -> str:
    return "Γ" if name == "GAMMA" else name.replace("_", "")
