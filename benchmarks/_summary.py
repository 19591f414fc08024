"""The summary of the benchmark results: one row per target, JSON and RST.

Every row is a ratio measured side by side in one run of one benchmark (its
JSON holds the absolute times and the machine's load); the summary only
reads the JSON files and compares each ratio with its target.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal


@dataclass(frozen=True)
class Row:
    """One target: what was measured, the goal, and whether it is met."""

    area: str
    what: str
    measured: float
    goal: float | None
    direction: Literal["at least", "at most", "report"]
    context: str
    source: str
    unit: str = "×"

    @property
    def margin(self) -> float | None:
        """measured/goal for "at least", goal/measured for "at most" (≥ 1: met)."""
        if self.goal is None or self.direction == "report":
            return None
        if self.direction == "at least":
            return self.measured / self.goal
        return self.goal / self.measured if self.measured > 0 else float("inf")

    @property
    def status(self) -> str:
        margin = self.margin
        if margin is None:
            return "reported (no target)"
        if margin >= 1:
            return f"met ({_factor(margin)}× margin)"
        return f"missed by {_factor(1 / margin)}×"

    def goal_text(self) -> str:
        if self.goal is None or self.direction == "report":
            return "—"
        sign = "≥" if self.direction == "at least" else "≤"
        if self.unit == "%":
            return f"{sign} {self.goal:.0%}"
        return f"{sign} {self.goal:g}{self.unit}"

    def measured_text(self) -> str:
        if self.unit == "%":
            return f"{self.measured:.2%}"
        return f"{self.measured:.2f}" if self.measured < 10 else f"{self.measured:.0f}"


def _load(folder: Path, name: str) -> dict[str, Any] | None:
    path = folder / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _graph(data: dict[str, Any]) -> list[Row]:
    t = data["seconds_per_snapshot"]
    batched = data["batched_32_thermal_snapshots"]
    b = batched["seconds_per_snapshot"]
    src = "bench_graph.py"
    return [
        Row(
            "graph",
            "build_graph vs the reference per-pair Python loop over a 3×3×3 "
            "supercell (40 atoms)",
            data["speedup_vs_loop_numpy"],
            100,
            "at least",
            f"{t['build_graph'] * 1e3:.2f} ms vs {t['loop_numpy'] * 1e3:.0f} ms; "
            f"identical edges: {data['exact_vs_loop']}",
            src,
        ),
        Row(
            "graph",
            "build_graph time / vesin neighbour-list call alone (40 atoms)",
            data["build_graph_over_vesin"],
            2,
            "at most",
            f"{t['neighbour_list_vesin'] * 1e3:.2f} ms for vesin",
            src,
        ),
        Row(
            "graph",
            "build_graphs (32 thermal snapshots at once) per snapshot / vesin "
            "call alone",
            batched["build_graphs_over_vesin"],
            2,
            "at most",
            f"{b['build_graphs'] * 1e3:.2f} ms vs {b['neighbour_list_vesin'] * 1e3:.2f}"
            f" ms per snapshot; {batched['speedup_vs_build_graph_and_collate']:.1f}×"
            " faster than build_graph + collation",
            src,
        ),
        Row(
            "graph",
            "scaling exponent of build_graph time, 1,000–10,080 atoms",
            data["scaling_exponent_above_1000_atoms"],
            1.1,
            "at most",
            f"{data['scaling'][-1]['build_graph_s'] * 1e3:.0f} ms for "
            f"{data['scaling'][-1]['n_atoms']:,} atoms",
            src,
            unit="",
        ),
    ]


def _predict(data: dict[str, Any]) -> list[Row]:
    src = "bench_predict.py"
    a = data["arithmetic_40_atoms"]
    # the most batching could give: the loop over the model's own time alone
    ceiling = {
        (40, "all"): f"; loop / model alone {a['loop_over_model_alone']:.1f}×, "
        "the most that removing every cost but the model's arithmetic could give",
        (40, "scalars"): "; loop / model alone "
        f"{a['loop_scalars_over_model_alone']:.1f}×",
    }
    rows = []
    for name, atoms in (("Ag3SBr_40_atoms", 40), ("Ag3SBr_5_atoms", 5)):
        d = data[name]
        by_size = {r["batch_size"]: r for r in d["batched"]}
        best, best_s = (
            by_size[d["best_batch_size"]],
            by_size[d["best_scalars_batch_size"]],
        )
        rows.append(
            Row(
                "prediction",
                f"batched predict vs a loop of calculator calls, {atoms}-atom "
                "frames, every property",
                d["best_ratio"],
                20,
                "at least",
                f"{best['frames_per_second']:.0f} vs "
                f"{d['calculator_loop_frames_per_second']:.0f} frames/s "
                f"(batch {d['best_batch_size']})" + ceiling.get((atoms, "all"), ""),
                src,
            )
        )
        rows.append(
            Row(
                "prediction",
                f"the same, scalars only (no forces/stress), {atoms}-atom frames",
                d["best_scalars_ratio"],
                20,
                "at least",
                f"{best_s['scalars_frames_per_second']:.0f} vs "
                f"{d['calculator_loop_scalars_frames_per_second']:.0f} frames/s "
                f"(batch {d['best_scalars_batch_size']})"
                + ceiling.get((atoms, "scalars"), ""),
                src,
            )
        )
    t = a["seconds_per_frame"]
    flops = a["forces_stress_flops_per_frame"] / a["forward_flops_per_frame"]
    rows.append(
        Row(
            "prediction",
            "scalar prediction time per frame / arithmetic bound (forward FLOPs "
            "÷ measured matmul FLOP/s), 40 atoms",
            a["scalars_over_bound"],
            3,
            "at most",
            f"{t['predict_scalars'] * 1e3:.2f} ms vs "
            f"{a['bound_seconds_per_frame'] * 1e3:.3f} ms "
            f"({a['forward_flops_per_frame'] / 1e6:.1f} MFLOP at "
            f"{a['peak_matmul_flops_per_second'] / 1e9:.0f} GFLOP/s); model alone "
            f"{a['model_forward_over_bound']:.1f}×; matmuls "
            f"{a['forward_profile']['matmul_share']:.0%} of its time",
            src,
        )
    )
    rows.append(
        Row(
            "prediction",
            "forces + stress time / scalars-only time, 40 atoms (each at its "
            "best batch size)",
            a["forces_stress_over_scalars"],
            3,
            "at most",
            f"{t['predict_all'] * 1e3:.2f} vs {t['predict_scalars'] * 1e3:.2f} ms "
            f"per frame (batch {a['all_batch_size']} and {a['scalar_batch_size']});"
            f" counted FLOPs {flops:.1f}×",
            src,
        )
    )
    m = data["memory_streaming_40_atoms"]
    per_frame = [
        r["peak_rss_rise_MiB"] / r["batch_size"]
        for r in data["memory_40_atoms"]
        if r["batch_size"] >= 8 and r["peak_rss_rise_MiB"]
    ]
    rows.append(
        Row(
            "prediction",
            f"peak memory, {m['frames'][1]} / {m['frames'][0]} frames streamed "
            f"at batch {m['batch_size']} (bounded by the batch)",
            m["ratio_4x_frames"],
            1.25,
            "at most",
            f"{m['peak_rss_rise_MiB'][0]:.0f} vs {m['peak_rss_rise_MiB'][1]:.0f} "
            f"MiB; {min(per_frame):.1f}–{max(per_frame):.1f} MiB per frame of "
            "the batch with forces",
            src,
        )
    )
    return rows


def _sampling(data: dict[str, Any]) -> list[Row]:
    src = "bench_sampling.py"
    phonopy = data["phonopy_snapshots_per_s"]
    rows = [
        Row(
            "sampling",
            f"{method} snapshots/s vs phonopy's generate_displacements "
            "(loading phonopy_params.yaml included)",
            data[f"{method}_vs_phonopy"],
            1,
            "at least",
            f"{data[f'{method}_snapshots_per_s']:.0f} vs {phonopy:.0f} snapshots/s",
            src,
        )
        for method in ("normal-mode", "paper")
    ]
    loaded = data["phonopy_after_load_snapshots_per_s"]
    rows += [
        Row(
            "sampling",
            f"{method} vs phonopy, from the phonopy object in memory (modes and "
            "structures)",
            data[f"{method}_after_load_vs_phonopy"],
            1,
            "at least",
            f"{data[f'{method}_after_load_snapshots_per_s']:.0f} vs {loaded:.0f} "
            "snapshots/s"
            + (
                "; one ZG configuration is a search over the signs of all modes"
                if method == "zg"
                else ""
            ),
            src,
        )
        for method in ("normal-mode", "paper", "zg")
    ]
    return rows


def _models(data: dict[str, Any]) -> list[Row]:
    speed = data["speed"]
    ours = speed["models"]["ours"]
    ratios = speed["ours_epoch_over_paper"]
    return [
        Row(
            "training",
            "epoch time of ours / paper-* of similar parameter count (median "
            "over paper-1..6)",
            speed["ours_epoch_over_paper_median"],
            None,
            "report",
            f"{min(ratios.values()):.1f}–{max(ratios.values()):.1f}× over "
            f"paper-1..6; {ours['epoch_seconds']:.3f} s per epoch, "
            f"{ours['parameters']:,} parameters; with forces and stress "
            f"{speed['ours_forces_stress_epoch_over_paper_median']:.1f}×",
            "bench_models.py",
        )
    ]


def _labelling(data: dict[str, Any]) -> list[Row]:
    src = "bench_labelling.py"
    rows = [
        Row(
            "labelling",
            "store overhead per snapshot / one GFN2-xTB single point (40 atoms)",
            data["store_overhead_fraction_of_single_point"],
            data["target_store_overhead_below"],
            "at most",
            f"{data['store_seconds_per_snapshot'] * 1e3:.1f} ms vs "
            f"{data['gfn2_xtb_single_point_s']:.1f} s",
            src,
            unit="%",
        )
    ]
    if "speedup_2_over_1_workers" in data:
        rows.append(
            Row(
                "labelling",
                "GFN2-xTB throughput, 2 workers / 1 worker",
                data["speedup_2_over_1_workers"],
                1.8,
                "at least",
                f"{data['throughput_1_worker_per_s']:.3f} vs "
                f"{data['throughput_2_workers_per_s']:.3f} snapshots/s; load "
                f"average {data['machine']['load_average'][0]:.1f} on "
                f"{data['machine']['cpu_count']} cores",
                src,
            )
        )
    return rows


def _shipped(data: dict[str, Any]) -> list[Row]:
    src = "bench_shipped.py"
    s, cases = data["summary"], data["cases"]
    base = data.get("baseline_commit", "?")

    def rate(case: str, version: str) -> str:
        return f"{cases[case][f'{version}_frames_per_second']:.1f}"

    rows = []
    for model, goal in (("committee", 3.0), ("member", None)):
        for what, text in (("all", "every property"), ("scalars", "scalars only")):
            case = f"{model}/{what}/predict40"
            rows.append(
                Row(
                    "shipped models",
                    f"{model}, {text}, 40-atom frames, predict with defaults: "
                    f"now / before ({base})",
                    s[f"{case}/speedup"],
                    goal if what == "all" else None,
                    "at least" if goal and what == "all" else "report",
                    f"{rate(case, 'now')} vs {rate(case, 'before')} frames/s; "
                    f"same results to {data['worst_relative_difference']:.1e}",
                    src,
                )
            )
        rows.append(
            Row(
                "shipped models",
                f"{model}: predict with defaults / calculator loop, 40-atom "
                "frames, every property",
                s[f"{model}/all/predict40/over_loop/now"],
                1.5,
                "at least",
                f"before: {s[f'{model}/all/predict40/over_loop/before']:.2f}×",
                src,
            )
        )
        for case in cases:
            if case.startswith(f"{model}/all/cell"):
                atoms = case.rsplit("cell", 1)[1]
                rows.append(
                    Row(
                        "shipped models",
                        f"{model}, every property, one {atoms}-atom cell: now / before",
                        s[f"{case}/speedup"],
                        None,
                        "report",
                        f"{cases[case]['now_seconds']:.2f} vs "
                        f"{cases[case]['before_seconds']:.2f} s",
                        src,
                    )
                )
    for what, text in (("all", "every property"), ("scalars", "scalars only")):
        key = f"committee-compiled/{what}/predict40"
        if f"{key}/speedup" in s:
            rows.append(
                Row(
                    "shipped models",
                    f"committee with compiled message kernels, {text}, 40-atom "
                    f"frames, predict: now / before ({base})",
                    s[f"{key}/speedup"],
                    3.0 if what == "all" else None,
                    "at least" if what == "all" else "report",
                    f"{rate(key, 'now')} frames/s; "
                    f"{s[f'{key}/over_eager_now']:.2f}× the eager kernels",
                    src,
                )
            )
    rows.append(
        Row(
            "shipped models",
            "member, every property, 40-atom frames: predict defaults / batch 1",
            s["member/all/default_over_batch1/now"],
            1.0,
            "at least",
            "defaults / best batch size "
            f"{s['member/all/default_over_best_batch/now']:.2f}×; before: "
            f"{s['member/all/default_over_batch1/before']:.2f}× batch 1",
            src,
        )
    )
    for key, row in data["memory"].items():
        version, model, _ = key.split("/")
        if version == "now":
            before = data["memory"][f"before/{model}/cell2560"]["peak_rss_rise_MiB"]
            rows.append(
                Row(
                    "shipped models",
                    f"{model}: peak memory rise, one 2,560-atom cell with forces "
                    "and stress",
                    row["peak_rss_rise_MiB"],
                    0.4 * 1024,
                    "at most",
                    f"before: {before:.0f} MiB",
                    src,
                    unit=" MiB",
                )
            )
    return rows


def _peers(data: dict[str, Any]) -> list[Row]:
    models = data["models"]
    rows = []
    for name, row in models.items():
        if name == "ours":
            continue
        rows.append(
            Row(
                "peers",
                f"one shipped member / {name} (random weights), frames/s with "
                "forces, 40-atom frames",
                row["ours_over_this"],
                None,
                "report",
                f"{models['ours']['frames_per_second']:.0f} vs "
                f"{row['frames_per_second']:.0f} frames/s; "
                f"{models['ours']['parameters']:,} vs {row['parameters']:,} "
                "parameters",
                "bench_peers.py",
            )
        )
    return rows


BUILDERS: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "graph": _graph,
    "predict": _predict,
    "sampling": _sampling,
    "models": _models,
    "labelling": _labelling,
    "shipped": _shipped,
    "peers": _peers,
}


def summarise(folder: Path, runs: dict[str, Any]) -> dict[str, Any]:
    """Return the summary of the JSON results in ``folder``."""
    rows: list[Row] = []
    sources: dict[str, Any] = {}
    for name, build in BUILDERS.items():
        data = _load(folder, name)
        if data is None:
            continue
        rows += build(data)
        sources[name] = {
            "time": data.get("machine", {}).get("time"),
            "quick": data.get("quick"),
            "load_average": data.get("machine", {}).get("load_average"),
        }
    return {
        "runs": runs,
        "sources": sources,
        "rows": [asdict(r) | {"margin": r.margin, "status": r.status} for r in rows],
        "_rows": rows,
    }


def to_rst(summary: dict[str, Any], command: str) -> str:
    """Return the summary as an RST list-table with a header paragraph."""
    rows: list[Row] = summary["_rows"]
    loads = sorted(
        {s["load_average"][0] for s in summary["sources"].values() if s["load_average"]}
    )
    times = sorted(s["time"] for s in summary["sources"].values() if s["time"])
    lines = [
        f"Generated by ``{command}`` ({times[0][:10] if times else '?'}; one-minute "
        f"load average {loads[0]:.1f}–{loads[-1]:.1f} on a shared machine). "
        "Each figure is a ratio measured side by side in one run; absolute "
        "times are context.",
        "",
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 12 40 10 8 14 30",
        "",
        "   * - area",
        "     - measured",
        "     - ratio",
        "     - target",
        "     - status",
        "     - context",
    ]
    for r in rows:
        lines += [
            f"   * - {r.area}",
            f"     - {r.what}",
            f"     - {r.measured_text()}",
            f"     - {r.goal_text()}",
            f"     - {r.status}",
            f"     - {r.context}",
        ]
    return "\n".join(lines) + "\n"


def _factor(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.0f}"
