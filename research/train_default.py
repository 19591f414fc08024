r"""Train the shipped default committee on the labelled Ag3SBr stores.

By default on both stores (phonon-informed and random): a member trained on
both scored better on the phonon-informed test set than one trained on the
phonon-informed store alone (docs/ag3sbr-findings.rst), and far better on random
snapshots.

    python research/train_default.py --seeds 0 --readout attention &   # members,
    python research/train_default.py --seeds 1 --readout attention &   # in parallel
    python research/train_default.py --seeds 0 --readout attention \\
        --equivariant --name default-model-painn --max-time 6300  # PaiNN member
    python research/train_default.py --seeds 0 --start-from ase_phonongnn/data \\
        --learning-rate 1e-4    # fine-tune a shipped member on grown stores
    python research/train_default.py phonon-Ag3SBr random-Ag3SBr \\
        gfn2-xtb-off-ensemble-Ag3SBr --start-from ase_phonongnn/data \\
        --members default-model-painn-0 --vector-norm smooth --repulsion zbl
        # the member with PaiNN's norm replaced by the smooth one and ZBL
        # added, fine-tuned into default-model-painn-0-smooth
    python research/train_default.py --seeds 2 --paper paper-1
    python research/train_default.py --summarise

Snapshots whose SCF converged only on a damped rung of GFN2-xTB's retry
ladder are left out of every set (``load_structures(skip_retried=True)``):
they lie on another SCF solution than their neighbours
(``research/scf_branch_check.py``).

The split is by content hash (15 % test, 15 % validation), so a snapshot
keeps its set when the store grows and the held-out test set is never
trained on by any later model either. Every member sees the same split and
differs in its seed (weights, batch order); the ``paper-*`` baselines are
trained on the same split. Members go to ``research/default-model/<name>-
<seed>.safetensors`` (``--out``); each run's test predictions and metrics go to
``research/default-model/<name>.json``; ``--summarise`` fits a shipped
committee's (``--committee``, default ``gfn2-xtb`` of
``ase_phonongnn/data/models.json``) spread scales on the validation set
(``research/default-model/<committee>.calibration.json``, with the members'
digests), evaluates the
members and the committee on each store's test set, scores the other runs'
test predictions on each store's part of their test set (named by content
hash in the record) and writes ``research/default-model/report-<committee>.json``
(``report.json``: the six-member committee of PaiNN's norm; ``--candidate
STEM ...`` does the same for member files of ``--out`` not yet shipped,
``--committee`` naming the outputs), with the
committee's metrics also without the σh labels that ``research/stress_screen.py``
flags (run it first; another SCF solution, kept in every set).

Nothing is written into the package: a member ships when it is copied into
``ase_phonongnn/data/`` and listed, with its SHA-256, in the manifest
``ase_phonongnn/data/models.json`` beside a calibration refitted for the new
members (``--summarise`` after the manifest lists them).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from ase_phonongnn import keys
from ase_phonongnn.data import DATA_DIR, dataset_path, resolve_dataset
from ase_phonongnn.model import (
    READOUTS,
    REPULSIONS,
    VECTOR_NORMS,
    GraphModel,
    ModelConfig,
    build_model,
    load_model,
    named_model,
    read_manifest,
    save_model,
    sha256,
)
from ase_phonongnn.prediction import Committee, calibrate_spread, predict
from ase_phonongnn.train import (
    TrainConfig,
    TrainResult,
    evaluate_model,
    hash_split,
    load_structures,
    regression_metrics,
    train,
)

runs = Path(__file__).parent
parser = argparse.ArgumentParser()
parser.add_argument(
    "stores",
    nargs="*",
    type=resolve_dataset,
    help="stores or dataset names (default: phonon-Ag3SBr random-Ag3SBr)",
    default=[dataset_path("phonon-Ag3SBr"), dataset_path("random-Ag3SBr")],
)
parser.add_argument("--seeds", type=int, nargs="*", default=[])
parser.add_argument("--summarise", action="store_true")
parser.add_argument(
    "--committee",
    default="gfn2-xtb",
    help="with --summarise: the committee of ase_phonongnn/data/models.json to "
    "calibrate and report on (<out>/<committee>.calibration.json, "
    "<out>/report-<committee>.json)",
)
parser.add_argument(
    "--candidate",
    nargs="*",
    default=[],
    help="with --summarise: calibrate and report on these member files (stems) "
    "of --out instead of the manifest's; --committee then only names the outputs",
)
parser.add_argument(
    "--calibrate-without",
    nargs="*",
    default=[],
    metavar="METHOD",
    help="with --summarise: leave the validation snapshots of these methods "
    "(e.g. active: frames chosen where the members part) out of the spread "
    "calibration",
)
parser.add_argument("--hidden-channels", type=int, default=64)
parser.add_argument(
    "--equivariant", action="store_true", help="ours: PaiNN blocks (bond angles)"
)
parser.add_argument(
    "--readout", choices=READOUTS, default="mean", help="ours: intensive pooling"
)
parser.add_argument("--max-time", type=float, default=1200.0, help="s per model")
parser.add_argument(
    "--balance-by",
    default=None,
    help="atoms.info key whose groups are each scaled by their own spreads "
    "in the loss (TrainConfig.balance_by), e.g. method",
)
parser.add_argument("--name", default="default-model", help="members are <name>-<seed>")
parser.add_argument(
    "--targets",
    nargs="+",
    choices=keys.TARGETS,
    default=list(keys.TARGETS),
    help="targets of the trained models (default all four)",
)
parser.add_argument(
    "--start-from",
    type=Path,
    default=None,
    help="fine-tune each member <name>-<seed>.safetensors of this folder "
    "(e.g. ase_phonongnn/data) instead of training it afresh",
)
parser.add_argument(
    "--members",
    nargs="*",
    default=[],
    help="with --start-from: fine-tune these member files (stems) of the folder "
    "instead of <name>-<seed>, each into <stem>-<suffix>",
)
parser.add_argument("--suffix", default="smooth", help="of the --members' new names")
parser.add_argument(
    "--member-seed",
    type=int,
    default=0,
    help="seed (batch order) of the first of --members; the next take the next "
    "(one process per member: give each its own)",
)
parser.add_argument(
    "--vector-norm",
    choices=VECTOR_NORMS,
    default=None,
    help="formulation of the vector norm (default: the start model's, or "
    "ModelConfig's for a new one); a fine-tuned member keeps its weights",
)
parser.add_argument(
    "--repulsion",
    choices=REPULSIONS,
    default=None,
    help="pair repulsion added to the energy (default as --vector-norm)",
)
parser.add_argument("--learning-rate", type=float, default=1e-3)
parser.add_argument("--paper", nargs="*", default=[])
parser.add_argument("--out", type=Path, default=runs / "default-model")
args = parser.parse_args()
torch.set_num_threads(1)
args.out.mkdir(parents=True, exist_ok=True)

per_store = [load_structures([store], skip_retried=True) for store in args.stores]
structures = [atoms for group in per_store for atoms in group]
origin = np.repeat(np.arange(len(per_store)), [len(g) for g in per_store])
# test: hash buckets 0-14, validation 15-29 (research/vbm_levels.py scores on it)
split = hash_split(structures)
print(
    f"{len(structures)} structures: {len(split.train)} train, "
    f"{len(split.validation)} validation, {len(split.test)} test",
    flush=True,
)
records = args.out
records.mkdir(exist_ok=True)
# the shipped committee is scored on all four
targets = keys.TARGETS


def fit(
    model_config: ModelConfig,
    seed: int,
    learning_rate: float,
    start_from: torch.nn.Module | None = None,
) -> TrainResult:
    """Train (or fine-tune) one model on the split and print its test metrics."""
    config = TrainConfig(
        seed=seed,
        max_epochs=2000,
        patience=80,
        learning_rate=learning_rate,
        max_time=args.max_time,
        balance_by=args.balance_by,
        progress=False,
    )
    start = time.perf_counter()
    result = train(structures, model_config, config, split=split, start_from=start_from)
    print(
        f"{model_config.model} seed {seed}: {result.best_epoch} epochs kept, "
        f"{time.perf_counter() - start:.0f} s",
        flush=True,
    )
    for target in model_config.targets:
        m = result.metrics["test"][target]
        print(
            f"  test {target}: MAE {m['mae']:.4g} RMSE {m['rmse']:.4g} R2 {m['r2']:.3f}"
        )
    return result


def record(name: str, result: TrainResult, start_from: Path | None = None) -> None:
    """Write a run's metrics and test predictions to research/default-model/."""
    payload = {
        "start_from": None if start_from is None else str(start_from),
        "split": result.split.to_dict(),
        "best_epoch": result.best_epoch,
        "epochs": len(result.history),
        "metrics": result.to_dict()["metrics"],
        "test_predictions": {
            t: [np.asarray(v).tolist() for v in result.predictions["test"][t]]
            for t in result.model_config.targets
        },
        # which snapshot each (label, prediction) pair is for, whatever the
        # stores hold later
        "test_hashes": [
            structures[i].info[keys.CONTENT_HASH] for i in result.split.test
        ],
    }
    (records / f"{name}.json").write_text(json.dumps(payload))


formulation = {
    key: value
    for key, value in (("vector_norm", args.vector_norm), ("repulsion", args.repulsion))
    if value is not None
}


def reformulated(model: GraphModel) -> GraphModel:
    """Return ``model`` rebuilt with ``formulation``, its weights unchanged.

    The vector norm and the ZBL repulsion have no parameters: the new model
    starts from the same weights, buffers and target scalings.
    """
    if not formulation:
        return model
    config = dataclasses.replace(model.config, **formulation)
    new = build_model(config, dtype=next(model.parameters()).dtype)
    new.load_state_dict(model.state_dict())
    return new


runs_to_do = [(f"{args.name}-{seed}",) * 2 + (seed,) for seed in args.seeds]
# a fine-tuned member's seed (its batch order) is its place in --members
runs_to_do += [
    (f"{stem}-{args.suffix}", stem, args.member_seed + k)
    for k, stem in enumerate(args.members)
]
for name, start_stem, seed in runs_to_do:
    start, start_path = None, None
    model_config = ModelConfig(
        model="ours",
        targets=tuple(args.targets),
        hidden_channels=args.hidden_channels,
        equivariant=args.equivariant,
        readout=args.readout,
        **formulation,
    )
    if args.start_from is not None:
        start_path = args.start_from / f"{start_stem}.safetensors"
        start = reformulated(load_model(start_path))
        model_config = start.config
    result = fit(model_config, seed, args.learning_rate, start)
    training = result.to_dict()
    if start_path is not None:
        training["start_from"] = str(start_path)
    save_model(result.model, args.out / f"{name}.safetensors", training=training)
    record(name, result, start_path)
for name in args.paper:
    paper = ModelConfig(model=name, targets=tuple(args.targets), hidden_channels=64)
    result = fit(paper, 0, args.learning_rate)
    record(name, result)
if args.summarise:
    # the shipped members and their committee as prediction gives them (a
    # potential's σh is the trace of its stress), on each store's test set;
    # the other runs (paper-*) from their records, on the test set they had
    # and, where the record names its test snapshots, on each store's part
    # the members the manifest lists, its calibration not yet checked: this
    # refits it, e.g. after the manifest's member list changed
    if args.candidate:
        shipped = [args.out / f"{stem}.safetensors" for stem in args.candidate]
    else:
        listed = read_manifest()["models"][args.committee]["members"]
        shipped = [DATA_DIR / member["file"] for member in listed]
    labelled = {a.info[keys.CONTENT_HASH]: k for k, a in enumerate(structures)}

    def by_store(payload: dict) -> dict[str, dict]:
        """Return a record's test metrics on each store's part of its test set."""
        hashes = payload.get("test_hashes", [])
        found = [(r, labelled[h]) for r, h in enumerate(hashes) if h in labelled]
        result = {}
        for k, store in enumerate(args.stores):
            rows = [(r, i) for r, i in found if origin[i] == k]
            if rows:
                result[store.stem] = {
                    t: regression_metrics(
                        *(np.asarray(v)[[r for r, _ in rows]] for v in pairs)
                    )
                    for t, pairs in payload["test_predictions"].items()
                }
        return result

    records_test = {}
    for path in sorted(records.glob("*.json")):
        if (
            path.stem.startswith("report")
            or path.stem.endswith(".calibration")
            or path.stem in {p.stem for p in shipped}
        ):
            continue
        payload = json.loads(path.read_text())
        records_test[path.stem] = {
            "all": payload["metrics"]["test"],
            "by_store": by_store(payload),
        }
    validation = [
        structures[i]
        for i in split.validation
        if structures[i].info.get(keys.METHOD) not in args.calibrate_without
    ]
    scale = calibrate_spread([str(p) for p in shipped], validation)
    calibration = args.out / f"{args.committee}.calibration.json"
    calibration.write_text(
        json.dumps(
            {
                "spread_scale": scale,
                "fitted_on": "validation set of research/train_default.py"
                + "".join(f", without {m} snapshots" for m in args.calibrate_without),
                "n_validation": len(validation),
                "members": [p.name for p in shipped],
                "member_sha256": {p.name: sha256(p) for p in shipped},
            },
            indent=1,
        )
        + "\n"
    )
    print(
        f"wrote {calibration}; to ship it, copy it into ase_phonongnn/data and "
        f"set its sha256 ({sha256(calibration)}) in ase_phonongnn/data/models.json",
        flush=True,
    )
    members = {path.stem: load_model(path) for path in shipped}
    screen_file = runs / "stress_screen.json"
    screened = set()
    if screen_file.exists():
        screen = json.loads(screen_file.read_text())
        screened = {
            row["hash"]
            for store in args.stores
            for row in screen.get(store.stem, {}).get("flagged", [])
        }

    def spread_check(committee: dict, test: list, target: str) -> dict[str, float]:
        """Return the committee's test error against its (calibrated) spread."""
        error = committee[target] - np.array([a.info[target] for a in test])
        spread = committee[target + "_std"]
        return {
            "rmse_over_rms_spread": float(
                np.sqrt(np.mean(error**2) / np.mean(spread**2))
            ),
            "within_one_spread": float(np.mean(np.abs(error) < spread)),
        }

    # a committee not yet shipped with its calibration gets the one fitted
    # above, as the shipped calibration file would apply it
    unshipped = args.candidate or named_model(args.committee).spread_scale is None
    shipped_committee = Committee.load(
        [str(p) for p in shipped] if args.candidate else args.committee,
        spread_scale=scale if unshipped else None,
    )

    def test_report(test: list) -> dict:
        """Return the members' and the committee's metrics on one test set."""
        committee = predict(shipped_committee, test, properties=targets)
        labels = {t: np.array([a.info[t] for a in test]) for t in targets}
        kept = np.array([a.info[keys.CONTENT_HASH] not in screened for a in test])
        return {
            "n": len(test),
            "members": {n: evaluate_model(m, test) for n, m in members.items()},
            "committee": {
                t: regression_metrics(labels[t], committee[t]) for t in targets
            },
            # without the σh labels research/stress_screen.py flags (another SCF
            # solution): what a smooth model can be held to; reported beside
            # the full test set, never instead of it
            "committee_screened": {
                "n": int(kept.sum()),
                **{
                    t: regression_metrics(labels[t][kept], committee[t][kept])
                    for t in targets
                },
            },
            # held out from the calibration too: with a calibrated spread the
            # ratio is near 1 and |error| < spread for ~68 % of Gaussian errors
            "committee_spread": {t: spread_check(committee, test, t) for t in targets},
        }

    def shown(path: Path) -> str:
        """Return a store's path relative to the repository when inside it."""
        try:
            return str(path.resolve().relative_to(runs.parent))
        except ValueError:
            return str(path)

    tests = {
        store.stem: [structures[i] for i in split.test if origin[i] == k]
        for k, store in enumerate(args.stores)
    }
    report = {
        "stores": [shown(s) for s in args.stores],
        "n": {k: len(v) for k, v in split.to_dict().items()},
        "spread_scale": scale,
        # a small store may have no snapshot in the test set
        "test": {name: test_report(test) for name, test in tests.items() if test},
        "records_test": records_test,
    }
    (records / f"report-{args.committee}.json").write_text(json.dumps(report, indent=1))
    for store, result in report["test"].items():
        print(f"test set of {store} ({result['n']} snapshots)")
        rows = {**result["members"], "committee": result["committee"]}
        for n, metrics in rows.items():
            print(" ", n, {t: round(metrics[t]["r2"], 3) for t in targets})
        screened_metrics = result["committee_screened"]
        print(
            f"  committee without the {result['n'] - screened_metrics['n']} "
            "screened σh labels",
            {t: round(screened_metrics[t]["r2"], 3) for t in targets},
        )
