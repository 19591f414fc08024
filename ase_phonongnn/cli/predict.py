"""``phonongnn predict``: properties of structures and trajectories, batched.

Reads every INPUT lazily (extxyz, ASE .traj, VASP XDATCAR, LAMMPS dump, any
other format ``ase.io`` reads, or a snapshot store), predicts a batch of
frames at a time, writes each frame's results to ``--out`` (CSV, store, or
an ``ase.io`` file with results in ``atoms.info``) and prints, per input, the
mean of every scalar property over its frames with a block-averaging error
bar (the time average of an MD trajectory).
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ase import Atoms

from ase_phonongnn import keys
from ase_phonongnn._json import to_jsonable
from ase_phonongnn.cli._inputs import checked_options
from ase_phonongnn.errors import StoreError, UserInputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``phonongnn predict``."""
    parser.add_argument(
        "model",
        help="model file (.safetensors), or a shipped model's name (gfn2-xtb, "
        "alias default)",
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        metavar="INPUT",
        help="structures: .extxyz, .traj, XDATCAR, LAMMPS dump, any ase.io "
        "format, or a snapshot store (.h5)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="per-frame results: .csv, .h5 (a store) or an ase.io file "
        "(.extxyz, .traj; results in atoms.info)",
    )
    parser.add_argument(
        "--device",
        default="auto",
        help="auto (CUDA when present), cpu, cuda or cuda:N (default auto)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="frames per batch (default: by atoms, 1,280 on CPU)",
    )
    parser.add_argument(
        "--committee",
        nargs="+",
        default=[],
        metavar="MODEL",
        help="more models: with MODEL a committee, giving <property>_std spreads",
    )
    parser.add_argument(
        "--properties",
        nargs="+",
        metavar="PROPERTY",
        help="properties to predict (default all the model gives), e.g. "
        "band_gap vbm energy",
    )
    parser.add_argument(
        "--index", default=":", help="frames of each input, e.g. '::10' (default ':')"
    )
    parser.add_argument(
        "--format", help="ase.io format of the inputs, e.g. lammps-dump-text"
    )
    parser.add_argument("--out-format", help="ase.io format of --out")
    parser.add_argument(
        "--discard",
        type=int,
        default=0,
        help="frames of each input left out of the averages (equilibration)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace --out")
    parser.add_argument(
        "--json", action="store_true", help="print the averages as JSON"
    )
    parser.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default=None,
        help="precision of the models (default: each model's own, float32 "
        "for the shipped ones)",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="compiled message kernels: about 1.7x the committee's throughput on "
        "a CPU after tens of seconds of compiling (needs a C++ compiler); for "
        "long trajectories",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Predict every input, write --out, print the averages."""
    from ase_phonongnn.prediction import Committee, PredictionWriter

    if args.batch_size is not None and args.batch_size < 1:
        raise UserInputError(f"--batch-size must be at least 1 (got {args.batch_size})")
    if args.discard < 0:
        raise UserInputError(f"--discard must be >= 0 (got {args.discard})")
    for source in args.inputs:
        if not source.exists():
            raise FileNotFoundError(f"no input file {source}")
        if source.is_file() and source.stat().st_size == 0:
            raise UserInputError(f"INPUT {source} is empty; give a file of structures")
    if args.out is not None and args.out.exists() and not args.overwrite:
        raise UserInputError(
            f"--out {args.out} exists; choose another --out or add --overwrite"
        )
    models = [args.model, *args.committee]
    committee = Committee.load(
        models if len(models) > 1 else args.model,
        args.device,
        dtype=args.dtype,
        compile_messages=args.compile,
    )
    with checked_options("--properties"):
        wanted = committee.check_properties(args.properties)
    partial: Path | None = None
    writer = None
    if args.out is not None:
        partial = _partial_path(args.out)
        out_format = _out_format(args.out, args.out_format)
        writer = PredictionWriter(
            partial, committee, overwrite=True, out_format=out_format
        )
    report: dict[str, Any] = {}
    try:
        for source in args.inputs:
            report[str(source)] = _predict_source(
                committee, source, wanted, writer, args
            )
    except BaseException:
        if writer is not None and partial is not None:
            writer.close()
            _remove(partial)
        raise
    if writer is not None and partial is not None:
        writer.close()
        # the output appears complete or not at all: a failed run leaves no file
        os.replace(partial, args.out)
    if args.json:
        print(json.dumps(to_jsonable(report), indent=2))
    else:
        _print_report(report)
    if writer is not None:
        print(f"wrote {writer.count} frames to {args.out}")
    return 0


def _predict_source(
    committee: Any,
    source: Path,
    wanted: Any,
    writer: Any,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Predict every frame of ``source``, write it, return frames and averages."""
    from ase_phonongnn.prediction import block_average, iter_predictions

    series: dict[str, list[float]] = {}
    for atoms, results in iter_predictions(
        committee,
        checked_frames(source, args.index, args.format),
        batch_size=args.batch_size,
        properties=wanted,
        progress=not args.no_progress,
    ):
        if writer is not None:
            writer.write(atoms, results)
        for name, value in results.items():
            if isinstance(value, float):
                series.setdefault(name, []).append(value)
    n_frames = len(next(iter(series.values()), []))
    averages = {}
    for name, values in series.items():
        if len(values) - args.discard >= 2:
            averages[name] = block_average(values, discard=args.discard).to_dict()
        elif len(values) > args.discard:
            averages[name] = {
                "mean": values[-1],
                "error": math.nan,
                "n_samples": 1,
                "converged": False,
            }
    return {"n_frames": n_frames, "averages": averages}


def checked_frames(
    source: Path, index: str | int | slice, format: str | None
) -> Iterator[Atoms]:
    """Yield the frames of ``source``; raise a user error for a broken one."""
    from ase_phonongnn.label.run import check_structure
    from ase_phonongnn.prediction._batch import read_structures

    frames = read_structures(source, index=index, format=format)
    number = 0
    while True:
        try:
            atoms = next(frames)
        except StopIteration:
            break
        except (StoreError, UserInputError):
            raise
        except Exception as err:  # ase.io's readers raise many types on bad files
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise UserInputError(
                f"INPUT {source}: frame {number} cannot be read "
                f"({type(err).__name__}: {first}); give a file ase.io reads "
                "(--format names its format)"
            ) from err
        with checked_options(f"INPUT {source}"):
            check_structure(atoms, f"frame {number}")
        number += 1
        yield atoms
    if number == 0:
        raise UserInputError(f"INPUT {source} holds no structures (--index {index})")


def _partial_path(out: Path) -> Path:
    """Return where the output is written until complete (same directory)."""
    return out.with_name(f".{out.stem}.partial-{os.getpid()}{out.suffix}")


def _out_format(out: Path, given: str | None) -> str | None:
    """Return the ase.io format of ``out``, for the partial file that becomes it."""
    from ase_phonongnn.prediction._batch import STORE_SUFFIXES

    if given is not None or out.suffix.lower() in (".csv", *STORE_SUFFIXES):
        return given
    from ase.io.formats import filetype

    try:
        return str(filetype(str(out), read=False))
    except ValueError as err:
        raise UserInputError(
            f"--out {out}: cannot tell its format from the name ({err}); "
            "name the format with --out-format"
        ) from None


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".lock").unlink(missing_ok=True)


def _print_report(report: dict[str, Any]) -> None:
    for source, entry in report.items():
        print(f"{source}: {entry['n_frames']} frames")
        if not entry["averages"]:
            continue
        print(f"  {'property':<26} {'mean':>14} {'error':>11}  {'unit':<9} blocks")
        for name, avg in entry["averages"].items():
            unit = keys.UNITS.get(name.removesuffix("_std"), "")
            blocks = (
                f"{avg['n_blocks']} of {avg['block_size']}"
                if "n_blocks" in avg
                else "-"
            )
            flag = "" if avg.get("converged") else "  (no plateau: error >= shown)"
            print(
                f"  {name:<26} {avg['mean']:>14.6g} {avg['error']:>11.3g}  "
                f"{unit:<9} {blocks}{flag}"
            )
