"""Train the shipped default committee on the labelled Ag3SBr stores.

    python runs/train_default.py [--members 3] [--max-time 1200] [--paper paper-1]

The split is by content hash (15 % test, 15 % validation), so a snapshot
keeps its set when the store grows and the held-out test set is never
trained on by any later model either. Every member sees the same split and
differs in its seed (weights, batch order). The `paper-*` baselines are
trained on the same split. Writes ``ase_phonongnn/data/default-model-<k>
.safetensors`` and ``runs/default-model-report.json`` (test metrics of each
member, of the committee mean and of each baseline).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from ase_phonongnn import keys
from ase_phonongnn.data import DATA_DIR
from ase_phonongnn.model import ModelConfig, save_model
from ase_phonongnn.train import Split, TrainConfig, TrainResult, load_structures, train
from ase_phonongnn.train._metrics import regression_metrics

runs = Path(__file__).parent
parser = argparse.ArgumentParser()
parser.add_argument(
    "stores", nargs="*", type=Path, default=[runs / "datasets" / "phonon-Ag3SBr.h5"]
)
parser.add_argument("--members", type=int, default=3)
parser.add_argument("--hidden-channels", type=int, default=64)
parser.add_argument("--max-time", type=float, default=1200.0, help="s per model")
parser.add_argument("--paper", nargs="*", default=["paper-1"])
parser.add_argument("--out", type=Path, default=DATA_DIR)
args = parser.parse_args()
torch.set_num_threads(1)
args.out.mkdir(parents=True, exist_ok=True)

structures = load_structures(args.stores)
buckets = np.array([int(a.info[keys.CONTENT_HASH][:8], 16) % 100 for a in structures])
split = Split(
    train=np.flatnonzero(buckets >= 30).tolist(),
    validation=np.flatnonzero((buckets >= 15) & (buckets < 30)).tolist(),
    test=np.flatnonzero(buckets < 15).tolist(),
)
print(
    f"{len(structures)} structures: {len(split.train)} train, "
    f"{len(split.validation)} validation, {len(split.test)} test",
    flush=True,
)
report: dict = {
    "stores": [str(s) for s in args.stores],
    "split": split.to_dict(),
    "members": [],
    "baselines": {},
}


def fit(model_config: ModelConfig, seed: int, learning_rate: float) -> TrainResult:
    """Train one model on the split and print its test metrics."""
    config = TrainConfig(
        seed=seed,
        max_epochs=2000,
        patience=80,
        learning_rate=learning_rate,
        max_time=args.max_time,
        progress=False,
    )
    start = time.perf_counter()
    result = train(structures, model_config, config, split=split)
    print(
        f"{model_config.model} seed {seed}: {result.best_epoch} epochs kept, "
        f"{time.perf_counter() - start:.0f} s",
        flush=True,
    )
    for target in keys.TARGETS:
        m = result.metrics["test"][target]
        print(
            f"  test {target}: MAE {m['mae']:.4g} RMSE {m['rmse']:.4g} R2 {m['r2']:.3f}"
        )
    return result


targets = keys.TARGETS
member_predictions = []
for k in range(args.members):
    result = fit(
        ModelConfig(
            model="ours", targets=targets, hidden_channels=args.hidden_channels
        ),
        k,
        1e-3,
    )
    path = save_model(
        result.model,
        args.out / f"default-model-{k}.safetensors",
        training=result.to_dict(),
    )
    report["members"].append(
        {
            "file": path.name,
            "best_epoch": result.best_epoch,
            "metrics": result.to_dict()["metrics"],
        }
    )
    member_predictions.append({t: result.predictions["test"][t] for t in targets})
    # The committee mean on the test set.
    report["committee_test"] = {
        t: regression_metrics(
            member_predictions[0][t][0],
            np.mean([p[t][1] for p in member_predictions], axis=0),
        )
        for t in targets
    }
    (runs / "default-model-report.json").write_text(json.dumps(report, indent=1))
for name in args.paper:
    result = fit(ModelConfig(model=name, targets=targets, hidden_channels=64), 0, 1e-3)
    report["baselines"][name] = result.to_dict()["metrics"]
    (runs / "default-model-report.json").write_text(json.dumps(report, indent=1))
print(json.dumps(report["committee_test"], indent=1))
