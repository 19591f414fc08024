"""Figures: importance density by bond type, significant edges, deletion curve."""

from __future__ import annotations

import pytest

from ase_phonongnn.explain import (
    aggregate_bond_types,
    deletion_curve,
    plot_deletion_curve,
    plot_importance_density,
    plot_significant_edges,
)

PNG = b"\x89PNG\r\n\x1a\n"


def test_figures_are_written_as_png(alloy_models, explained, tmp_path):
    results = explained("ours", "integrated-gradients")
    curve = deletion_curve(alloy_models["ours"], results[:2], n_random=2)
    written = [
        plot_importance_density(results, tmp_path / "density.png", title="ours"),
        plot_importance_density(
            aggregate_bond_types(results), tmp_path / "stats.png", threshold=0.86
        ),
        plot_significant_edges(results[0], tmp_path / "edges.png"),
        plot_significant_edges(results[0], tmp_path / "none.png", threshold=1.0),
        plot_deletion_curve(curve, tmp_path / "deletion.png"),
    ]
    for path in written:
        assert path.read_bytes()[:8] == PNG
        assert path.stat().st_size > 10_000


def test_figures_refuse_bad_input(explained, tmp_path):
    results = explained("ours", "integrated-gradients")
    with pytest.raises(ValueError, match="give threshold"):
        plot_importance_density(aggregate_bond_types(results), tmp_path / "a.png")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        plot_importance_density(results, tmp_path / "missing" / "a.png")
    with pytest.raises(TypeError, match="EdgeImportance"):
        plot_significant_edges(results, tmp_path / "b.png")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\]"):
        plot_significant_edges(results[0], tmp_path / "c.png", threshold=-1.0)
    with pytest.raises(TypeError, match="DeletionCurve"):
        plot_deletion_curve(results, tmp_path / "d.png")  # type: ignore[arg-type]
