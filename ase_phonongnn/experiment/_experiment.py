"""run_experiment(): learning curves, the Table-1 analog, figures and summary."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from torch_geometric.data import Data

from ase_phonongnn import keys
from ase_phonongnn.experiment._config import ExperimentConfig
from ase_phonongnn.experiment._data import (
    Layout,
    build_layout,
    clip_sizes,
    load_dataset,
)
from ase_phonongnn.experiment._explain import (
    explain_extremes,
    explanation_lines,
    plot_explanations,
)
from ase_phonongnn.experiment._plots import plot_curves, plot_table_parity
from ase_phonongnn.experiment._report import curve_lines, table_lines, verdict
from ase_phonongnn.experiment._results import ResultsFile, recorded_rows
from ase_phonongnn.experiment._runs import (
    CurveKey,
    curve_run,
    n_labelled,
    table_run,
    table_split,
    target_graphs,
)
from ase_phonongnn.model import MODEL_KEYS
from ase_phonongnn.train import labelled_graphs

Log = Callable[[str], None]

_log = logging.getLogger(__name__)


def run_experiment(
    config: ExperimentConfig,
    *,
    curves: bool = True,
    table: bool = True,
    explain: bool = True,
    fresh: bool = False,
    log: Log | None = None,
) -> dict[str, Any]:
    """Run (or resume) the experiment and write its results into ``config.out``.

    Writes ``results.json`` (after every training run), ``learning_curves.png``,
    ``table1_parity_<model>.png``, ``fig5_bond_types.png`` and ``summary.txt``.

    Parameters
    ----------
    config
        The settings.
    curves, table
        Run the learning curves (Fig. 4) and the Table-1 analog.
    explain
        Explain the best and the poor curve run at the largest size (Fig. 5;
        :func:`~ase_phonongnn.experiment.explain_extremes`).
    fresh
        Discard the results of an earlier run in ``config.out``. Otherwise a
        run resumes on the structures the earlier one used (the store rows
        its results record), however much the stores have grown since.
    log
        Where progress and the summary go, a line at a time (default: the
        ``ase_phonongnn.experiment`` logger at level INFO; ``phonongnn
        paper-experiment`` prints them).

    Returns
    -------
    dict
        The content of results.json.
    """
    if log is None:
        log = _log.info
    datasets = {
        kind: load_dataset(
            kind,
            config.dataset(kind),
            config.target,
            skip_retried=config.skip_retried,
        )
        for kind in config.kinds
    }
    pinned = {} if fresh else recorded_rows(config.out / "results.json")
    for kind, rows in pinned.items():
        # a kind the earlier run had and this one lacks: the setup check refuses
        if kind in datasets:
            datasets[kind] = datasets[kind].pinned(rows)
    for dataset in datasets.values():
        log(dataset.describe())
    if any(d.counts.get("left_out_pinned") for d in datasets.values()):
        log(
            "NOTE: resuming on the structures of the earlier results; the ones "
            "labelled since are left out (--fresh to start over with them)"
        )
    layout = build_layout(datasets, config)
    sizes, clipped = clip_sizes(layout, config)
    if clipped:
        log(f"NOTE: {clipped}")
    setup = {
        **config.setup(),
        "data": {kind: datasets[kind].digest for kind in config.kinds},
    }
    results = ResultsFile(config.out / "results.json", setup, fresh=fresh)
    results.set("splits", layout.to_dict(config.seeds, relative_to=config.out))
    results.set(
        "sizes",
        {"requested": list(config.sizes), "run": sizes, "clipped": clipped},
    )
    log(f"building {len(layout.structures):,} graphs (cutoff {config.cutoff} Å)")
    graphs = labelled_graphs(layout.structures, keys.TARGETS, cutoff=config.cutoff)
    if curves:
        _curves(layout, graphs, config, sizes, results, log)
    if table:
        _table(layout, graphs, config, results, log)
    if explain and results.data["curves"]:
        explain_extremes(
            layout,
            target_graphs(graphs, keys.TARGETS, config.target),
            config,
            results,
            log,
        )
    models = _models(results, config)
    lines = _summary(config, results, models)
    _, beats = verdict(results.data["curves"], models, config.target)
    results.set("verdict", beats)
    (config.out / "summary.txt").write_text("\n".join(lines) + "\n")
    for line in lines:
        log(line)
    return results.data


def _curves(
    layout: Layout,
    all_graphs: list[Data],
    config: ExperimentConfig,
    sizes: list[int],
    results: ResultsFile,
    log: Log,
) -> None:
    graphs = target_graphs(all_graphs, keys.TARGETS, config.target)
    runs = [
        (seed, size, kind, model)
        for seed in config.seeds
        for size in sizes
        for kind in config.kinds
        for model in config.models
    ]
    start = time.perf_counter()
    for number, (seed, size, kind, model) in enumerate(runs, 1):
        identity = {"train_kind": kind, "model": model, "size": size, "seed": seed}
        if results.has("curves", **identity):
            continue
        record = curve_run(layout, graphs, config, CurveKey(model, kind, size, seed))
        results.add("curves", record)
        combined = record["metrics"]["combined"]
        log(
            f"[{number}/{len(runs)}] {model} trained on {size} {kind}, seed {seed}: "
            f"{record['epochs']} epochs (best {record['best_epoch']}), "
            f"{record['seconds']:.0f} s; combined test MAE {combined['mae']:.4g} "
            f"R² {combined['r2']:.3f} ({time.perf_counter() - start:.0f} s so far)"
        )


def _table(
    layout: Layout,
    all_graphs: list[Data],
    config: ExperimentConfig,
    results: ResultsFile,
    log: Log,
) -> None:
    split = table_split(layout, config)
    skipped = []
    for target in config.table_targets:
        graphs = target_graphs(all_graphs, keys.TARGETS, target)
        if not (n_labelled(graphs, split.train) and n_labelled(graphs, split.test)):
            skipped.append(target)
            log(f"table: the data have no {target} labels; skipped")
            continue
        for model in config.models:
            if results.has("table", target=target, model=model):
                continue
            record = table_run(
                layout, graphs, config, split, model=model, target=target
            )
            results.add("table", record)
            test = record["metrics"]["test"]
            log(
                f"table: {model} on {target}, {record['n_train']} training "
                f"structures: {record['epochs']} epochs, {record['seconds']:.0f} s; "
                f"test MAE {test['mae']:.4g} R² {test['r2']:.3f}"
            )
    results.set("table_skipped", skipped)


def _models(results: ResultsFile, config: ExperimentConfig) -> list[str]:
    """Return the models of this run and of other runs in the same results."""
    records = results.data["curves"] + results.data["table"]
    found = {record["model"] for record in records}
    return [*config.models, *(m for m in MODEL_KEYS if m in found - set(config.models))]


def _summary(
    config: ExperimentConfig, results: ResultsFile, models: list[str]
) -> list[str]:
    curves, table = results.data["curves"], results.data["table"]
    lines: list[str] = []
    if curves:
        figure = config.out / "learning_curves.png"
        plot_curves(curves, models, config.target, figure)
        lines += curve_lines(curves, models, config.target)
        lines += verdict(curves, models, config.target)[0]
    if table:
        for model in models:
            plot_table_parity(table, model, config.out / f"table1_parity_{model}.png")
        lines += table_lines(table)
    explanations = results.data.get("explanations")
    if explanations:
        figure = config.out / "fig5_bond_types.png"
        plot_explanations(explanations, config.target, figure)
        lines += explanation_lines(explanations, config.target)
    return lines
