"""Learning-curve statistics over seeds, the verdict and the tables, as text."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from ase_phonongnn import keys
from ase_phonongnn.experiment._config import ALL_KINDS, KINDS, TARGET_ORDER
from ase_phonongnn.train import LearningCurve

Stats = dict[int, tuple[float, float]]


def curve_stats(
    records: Sequence[Mapping[str, Any]],
    model: str,
    train_kind: str,
    test_kind: str,
    target: str,
    metric: str,
) -> Stats:
    """``{size: (mean, std over seeds)}`` of one metric on one test set."""
    selected = [
        {
            "size": r["size"],
            "seed": r["seed"],
            "metrics": {target: _floats(r["metrics"][test_kind])},
        }
        for r in records
        if r["model"] == model and r["train_kind"] == train_kind
    ]
    if not selected:
        return {}
    with warnings.catch_warnings():
        # a size whose runs all have NaN (e.g. R² of a constant test set)
        warnings.simplefilter("ignore", RuntimeWarning)
        stats: Stats = LearningCurve(selected, (), (target,)).summary(metric)[target]
    return stats


def recorded_kinds(records: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """Return the kinds of training data the learning-curve records hold, in order."""
    found = {record["train_kind"] for record in records}
    return tuple(kind for kind in ALL_KINDS if kind in found)


def _floats(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {k: float("nan") if v is None else float(v) for k, v in metrics.items()}


def verdict(
    records: Sequence[Mapping[str, Any]], models: Sequence[str], target: str
) -> tuple[list[str], dict[str, Any]]:
    """Whether phonon-trained models beat random-trained ones on the combined set.

    At each size both have run, compare the mean test MAE and R² over seeds on
    the combined test set; a lead larger than the two standard deviations
    added in quadrature is called clear.

    Returns
    -------
    lines, summary
        Printable lines, and per model ``{"sizes", "mae_wins", "r2_wins",
        "clear_mae_wins", "beats"}``.
    """
    lines, summary = [], {}
    unit = keys.UNITS.get(target, "")
    for model in models:
        stats = {
            (kind, metric): curve_stats(
                records, model, kind, "combined", target, metric
            )
            for kind in KINDS
            for metric in ("mae", "r2")
        }
        sizes = sorted(set(stats["phonon", "mae"]) & set(stats["random", "mae"]))
        if not sizes:
            continue
        rows = []
        mae_wins = r2_wins = clear = no_skill = 0
        for size in sizes:
            (p_mae, p_sd), (r_mae, r_sd) = (
                stats["phonon", "mae"][size],
                stats["random", "mae"][size],
            )
            p_r2, r_r2 = stats["phonon", "r2"][size][0], stats["random", "r2"][size][0]
            mae_wins += p_mae < r_mae
            r2_wins += p_r2 > r_r2
            clear += (r_mae - p_mae) > (p_sd**2 + r_sd**2) ** 0.5
            no_skill += max(p_r2, r_r2) <= 0
            rows.append(
                f"  {size:>6}  {p_mae:.4g} ± {p_sd:.2g}  {r_mae:.4g} ± {r_sd:.2g}"
                f"  {p_r2:7.3f}  {r_r2:7.3f}"
            )
        beats = mae_wins == len(sizes) and r2_wins == len(sizes)
        summary[model] = {
            "sizes": sizes,
            "sizes_without_skill": no_skill,
            "mae_wins": mae_wins,
            "r2_wins": r2_wins,
            "clear_mae_wins": clear,
            "beats": beats,
        }
        answer = "YES" if beats else ("PARTLY" if mae_wins or r2_wins else "NO")
        lines += [
            f"{model}: test on the combined set, {target} ({unit}), mean ± std over "
            "seeds",
            "    size  MAE phonon-trained  MAE random-trained  R² phon.  R² rand.",
            *rows,
            f"  phonon-informed beats random at equal size: {answer} (lower MAE at "
            f"{mae_wins}/{len(sizes)} sizes, clearly at {clear}; higher R² at "
            f"{r2_wins}/{len(sizes)})",
        ]
        if no_skill:
            lines.append(
                f"  but at {no_skill} size(s) neither beats a constant predictor "
                "(R² <= 0): train longer or on more data before reading this"
            )
    return lines, summary


def curve_lines(
    records: Sequence[Mapping[str, Any]], models: Sequence[str], target: str
) -> list[str]:
    """MAE and R² (mean ± std) at every size, per model, train kind and test set."""
    lines = [f"learning curves, {target} ({keys.UNITS.get(target, '')})"]
    kinds = recorded_kinds(records)
    for model in models:
        for train_kind in kinds:
            for test_kind in (*kinds, "combined"):
                mae, r2 = (
                    curve_stats(records, model, train_kind, test_kind, target, metric)
                    for metric in ("mae", "r2")
                )
                points = "  ".join(
                    f"{size}: {mae[size][0]:.3g}±{mae[size][1]:.1g} "
                    f"R² {r2[size][0]:.2f}"
                    for size in mae
                )
                if points:
                    lines.append(
                        f"  {model:8} {train_kind:>6} -> {test_kind:<8} {points}"
                    )
    return lines


def table_lines(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Return the Table-1 analog: MAE, RMSE, R² per target, model and split."""
    lines = [
        "Table 1 analog (one model per target; test: the fixed held-out sets)",
        f"  {'target':<19}{'model':<9}{'split':<12}{'n':>5}{'MAE':>11}{'RMSE':>11}"
        f"{'R²':>8}",
    ]
    # targets in their usual order, models in the order they were run
    for record in sorted(records, key=lambda r: TARGET_ORDER[r["target"]]):
        unit = keys.UNITS.get(record["target"], "")
        # the combined test set, then each kind's part of it where recorded
        splits = ["train", "validation", "test"]
        splits += [
            f"test_{kind}" for kind in ALL_KINDS if f"test_{kind}" in record["metrics"]
        ]
        for split in splits:
            m = _floats(record["metrics"][split])
            lines.append(
                f"  {record['target']:<19}{record['model']:<9}{split:<12}"
                f"{int(m['n']):>5}{m['mae']:>11.4g}{m['rmse']:>11.4g}{m['r2']:>8.3f}"
                + (f"  {unit}" if split == "train" else "")
            )
    return lines
