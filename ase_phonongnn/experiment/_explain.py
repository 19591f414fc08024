"""Fig. 5: which bonds the best and a poor model of the learning curves rest on.

Of the curve runs at the largest training size, the one with the lowest and
the one with the highest MAE on the combined test set are trained again
(a run is deterministic in its seed), and each explains its prediction on
every structure of the combined test set with the package's explainer
(:func:`~ase_phonongnn.explain.explain_dataset`). Edge importances are
aggregated per bond type, over all test structures and per composition
(chemical formula), as in the paper's Fig. 5: its best band-gap model put its
importance on Ag–S, its poor one spread it uniformly.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
from torch_geometric.data import Data

from ase_phonongnn.experiment._config import ExperimentConfig
from ase_phonongnn.experiment._data import Layout
from ase_phonongnn.experiment._results import ResultsFile
from ase_phonongnn.experiment._runs import CurveKey, curve_model, score
from ase_phonongnn.explain import EdgeImportance, aggregate_bond_types, explain_dataset

#: The two runs explained.
ROLES: Final = ("best", "poor")
#: What identifies a curve run.
RUN_KEYS: Final = ("model", "train_kind", "size", "seed")


def pick_extremes(curves: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Return the best and the poorest curve run at the largest size run.

    Ranked by MAE on the combined test set; ``{"best": run, "poor": run}``.
    """
    if not curves:
        raise ValueError("no curve runs to choose from: run the learning curves")
    largest = max(run["size"] for run in curves)
    at_largest = [run for run in curves if run["size"] == largest]
    ranked = sorted(at_largest, key=lambda run: run["metrics"]["combined"]["mae"])
    return {"best": ranked[0], "poor": ranked[-1]}


def explain_extremes(
    layout: Layout,
    graphs: Sequence[Data],
    config: ExperimentConfig,
    results: ResultsFile,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """Explain the best and the poor run; record it as ``explanations``.

    A role whose run is the one already recorded is not explained again.

    Returns
    -------
    dict
        ``{role: {"run", "curve_mae", "retrained_mae", "all", "by_composition"}}``,
        each bond-type table ``{bond: {"mean", "fraction_significant",
        "share_of_significant", "n_edges"}}``.
    """
    chosen = pick_extremes(results.data["curves"])
    recorded = results.data.get("explanations", {})
    test = list(layout.combined_test())
    compositions: dict[str, list[int]] = defaultdict(list)
    for position, index in enumerate(test):
        formula = layout.structures[index].get_chemical_formula()
        compositions[formula].append(position)
    explanations: dict[str, Any] = {}
    for role, run in chosen.items():
        identity = {name: run[name] for name in RUN_KEYS}
        if recorded.get(role, {}).get("run") == identity:
            explanations[role] = recorded[role]
            continue
        key = CurveKey(run["model"], run["train_kind"], run["size"], run["seed"])
        result = curve_model(layout, graphs, config, key)
        explained = explain_dataset(
            result.model, [graphs[i] for i in test], config.target, seed=0
        )
        retrained = score(result.model, graphs, {"combined": test})["combined"]
        explanations[role] = {
            "run": identity,
            "curve_mae": run["metrics"]["combined"]["mae"],
            "retrained_mae": retrained["mae"],
            "all": _bond_table(explained),
            "by_composition": {
                formula: _bond_table([explained[p] for p in positions])
                for formula, positions in sorted(compositions.items())
            },
        }
        top = next(iter(explanations[role]["all"]))
        log(
            f"Fig. 5: the {role} run, {_describe(identity)}, explained: combined "
            f"MAE {retrained['mae']:.4g}; its most important bond type {top}"
        )
    results.set("explanations", explanations)
    return explanations


def _bond_table(explained: Sequence[EdgeImportance]) -> dict[str, dict[str, float]]:
    return {
        bond: {
            "mean": stats.mean,
            "fraction_significant": stats.fraction_significant,
            "share_of_significant": stats.share_of_significant,
            "n_edges": stats.n_edges,
        }
        for bond, stats in aggregate_bond_types(explained).items()
    }


def explanation_lines(explanations: Mapping[str, Any], target: str) -> list[str]:
    """Return the summary's lines on Fig. 5: each role's top bond types."""
    lines = [f"Fig. 5: bond types the {target} rests on (mean scaled importance)"]
    for role in ROLES:
        entry = explanations.get(role)
        if entry is None:
            continue
        run = entry["run"]
        tops = ", ".join(
            f"{bond} {values['mean']:.2f}"
            for bond, values in list(entry["all"].items())[:4]
        )
        lines.append(
            f"  {role:4s} {_describe(run)}, MAE {entry['retrained_mae']:.4g}: {tops}"
        )
    return lines


def _describe(run: Mapping[str, Any]) -> str:
    return f"{run['model']} on {run['size']} {run['train_kind']} (seed {run['seed']})"


def plot_explanations(
    explanations: Mapping[str, Any], target: str, path: str | os.PathLike[str]
) -> Path:
    """Draw the bond-type importances of the best and the poor run, per composition."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    roles = [role for role in ROLES if role in explanations]
    figure = Figure(figsize=(5.2 * len(roles), 3.8), layout="constrained")
    axes = figure.subplots(1, len(roles), squeeze=False, sharey=True)[0]
    for ax, role in zip(axes, roles, strict=True):
        entry = explanations[role]
        bonds = list(entry["all"])
        groups = entry["by_composition"]
        width = 0.8 / max(len(groups), 1)
        for g, (formula, table) in enumerate(groups.items()):
            heights = [table.get(b, {}).get("mean", np.nan) for b in bonds]
            offsets = np.arange(len(bonds)) - 0.4 + width * (g + 0.5)
            ax.bar(offsets, heights, width, label=formula)
        ax.set_xticks(np.arange(len(bonds)), bonds, rotation=45, ha="right")
        ax.set_ylabel("mean scaled edge importance")
        run = entry["run"]
        ax.set_title(
            f"{role}: {run['model']}, {run['size']} {run['train_kind']}, "
            f"MAE {entry['retrained_mae']:.3g}",
            fontsize=9,
        )
        if len(groups) > 1:
            ax.legend(fontsize=7)
    figure.suptitle(f"which bonds the {target} rests on (GNNExplainer)")
    target_path = Path(path)
    FigureCanvasAgg(figure)
    figure.savefig(target_path, dpi=120, format="png")
    return target_path
