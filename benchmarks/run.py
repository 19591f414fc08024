"""Run the benchmarks and write their summary: one command for all of them.

Each benchmark runs in a fresh process with one OpenMP/torch thread and
writes its JSON; then ``summary.json`` and ``summary.rst`` (one row per
target: the ratio measured, the target, met or missed and by how much) are
made from the JSON files in the output folder. A benchmark left out with
``--only`` keeps its earlier JSON, whose time the summary records.

    python benchmarks/run.py               # everything, ~20 min on 2 busy cores
    python benchmarks/run.py --quick       # a few minutes, into results/quick/
    python benchmarks/run.py --only graph predict
    python benchmarks/run.py --readme      # and copy the table into the docs

``--quick`` uses fewer frames and rounds, measures training speed only, and
runs the labelling benchmark without its worker scaling (one GFN2-xTB
single point instead of 17).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import RESULTS, machine, write_json
from _summary import summarise, to_rst

HERE = Path(__file__).resolve().parent
#: Benchmarks in the order they run (the cheap ones first).
NAMES = (
    "graph",
    "sampling",
    "predict",
    "shipped",
    "peers",
    "models",
    "labelling",
    "profile",
)


def command(name: str, folder: Path, quick: bool) -> list[str]:
    """Return the command line of one benchmark writing into ``folder``."""
    script = HERE / f"bench_{name}.py"
    if name == "profile":
        out = ["--out-dir", str(folder / "profiles")]
    else:
        out = ["--out", str(folder / f"{name}.json")]
    return [sys.executable, str(script), *out, *(["--quick"] if quick else [])]


#: The page whose lines between the markers ``--readme`` replaces by the table.
SUMMARY_PAGE = HERE.parent / "docs" / "science" / "performance.rst"
#: Lines of :data:`SUMMARY_PAGE` between which ``--readme`` puts the table.
MARKERS = (".. benchmark-summary-start", ".. benchmark-summary-end")


def update_readme(path: Path, rst: str) -> None:
    """Replace the text between the summary markers of ``path`` by ``rst``."""
    text = path.read_text()
    start, end = (text.find(marker) for marker in MARKERS)
    if start < 0 or end < start:
        raise SystemExit(f"{path} has no {MARKERS[0]} ... {MARKERS[1]} block")
    head = text[: start + len(MARKERS[0])]
    path.write_text(f"{head}\n\n{rst}\n{text[end:]}")
    print(f"updated {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few minutes")
    parser.add_argument("--only", nargs="+", choices=NAMES, help="run only these")
    parser.add_argument(
        "--readme",
        action="store_true",
        help="also copy the table into docs/science/performance.rst (its markers)",
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        help="where the JSON go (default benchmarks/results, or results/quick)",
    )
    args = parser.parse_args()
    folder = args.out_dir or (RESULTS / "quick" if args.quick else RESULTS)
    folder.mkdir(parents=True, exist_ok=True)
    env = os.environ | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    runs: dict[str, Any] = {}
    for name in args.only or NAMES:
        line = command(name, folder, args.quick)
        print(f"== {name}: {' '.join(line[1:])}", flush=True)
        start = time.perf_counter()
        done = subprocess.run(line, env=env, check=False)
        runs[name] = {
            "seconds": round(time.perf_counter() - start, 1),
            "returncode": done.returncode,
            "quick": args.quick,
        }
        if done.returncode:
            print(f"!! {name} failed with exit status {done.returncode}", flush=True)
    previous = folder / "summary.json"
    if args.only and previous.exists():
        earlier = json.loads(previous.read_text()).get("runs", {})
        runs = earlier | runs
    summary = summarise(folder, runs)
    text = "python benchmarks/run.py" + (" --quick" if args.quick else "")
    rst = to_rst(summary, text)
    rows = summary.pop("_rows")
    summary["machine"] = machine()
    summary["command"] = text
    write_json(folder / "summary.json", summary)
    (folder / "summary.rst").write_text(rst)
    print(f"wrote {folder / 'summary.rst'}")
    if args.readme:
        update_readme(SUMMARY_PAGE, rst)
    width = max(len(r.what) for r in rows) if rows else 0
    for r in rows:
        print(f"{r.what:<{width}}  {r.measured:10.3g}  {r.goal_text():>8}  {r.status}")
    if any(run["returncode"] for run in runs.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
