"""Shared helpers of the benchmarks: machine record, interleaved timing, JSON."""

from __future__ import annotations

import json
import os
import platform
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """Return what the timings depend on: CPU, threads, load, versions."""
    import numpy as np

    record: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": _cpu_name(),
        "cpu_count": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "numpy": np.__version__,
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    try:
        import torch

        record["torch"] = torch.__version__
        record["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    from ase_phonongnn._version import __version__

    record["ase_phonongnn"] = __version__
    return record


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def interleaved_best(
    functions: dict[str, Callable[[], object]], rounds: int
) -> dict[str, float]:
    """Return the shortest time in s of each function over interleaved rounds.

    Every round runs every function once, in turn, so that a change of the
    machine's load during the measurement reaches all of them alike; the
    minimum over rounds is the least disturbed run. Each function runs once
    before the timing (warm-up).
    """
    for function in functions.values():
        function()
    best = {name: float("inf") for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def write_json(path: Path, result: dict[str, Any]) -> None:
    """Write ``result`` as indented JSON, creating the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")


def peak_rss_kib() -> int:
    """Return the peak resident set of this process in KiB (Linux ``VmHWM``)."""
    text = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", text).group(1))  # type: ignore[union-attr]


def reset_peak_rss() -> bool:
    """Reset ``VmHWM`` to the current resident set; False where Linux refuses."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def shipped_committee() -> tuple[list[Path], dict[str, float] | None]:
    """Member files and spread calibration of the shipped default committee.

    Through the manifest (``named_model``) where the package has one, else
    through the older ``default_model_paths`` (frozen copies of earlier code
    that a benchmark runs side by side).
    """
    try:
        from ase_phonongnn.model import named_model
    except ImportError:
        from ase_phonongnn.data import (  # type: ignore[attr-defined]
            default_model_paths,
            default_spread_scale,
        )

        return list(default_model_paths()), default_spread_scale()
    shipped = named_model("gfn2-xtb")
    scale = shipped.spread_scale
    return list(shipped.members), dict(scale) if scale is not None else None
