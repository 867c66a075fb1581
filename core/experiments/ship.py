"""Ship a data-hunger cell's checkpoint as an embedded model (`python -m core.experiments ship`).

The embedded models of core.models.EMBEDDED whose spec names a grid cell (`EmbeddedSpec.cell`: N and augment px,
seed 0) are not trained by core.train: their weights are the checkpoint the data-hunger grid picked on validation
for that cell (saved with `--weights`). This copies each into core/weights and writes its model-card entry, with
accuracy measured on the same two test sets as the other embedded models, so the home page compares like with like.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file

from core import shapes
from core import train as tr
from core.experiments import hunger as hu
from core.experiments import hunger_results
from core.models import EMBEDDED, MODEL_CARD, WEIGHTS_DIR, build_embedded

DEFAULT_CHECKPOINTS = Path(os.environ.get("IBL_CACHE", "~/.cache/ibl")).expanduser() / "checkpoints"
SEED = 0  # the grid cell's seed: the one seed every size has


def grid_models() -> dict:
    """{embedded name: spec} of the models that come from the grid."""
    return {n: s for n, s in EMBEDDED.items() if s.cell is not None}


def checkpoint_for(name: str) -> str:
    spec = grid_models()[name]
    n, augment = spec.cell
    return hu.checkpoint_name(spec.kind, n, SEED, augment)


def card_entry(name: str, checkpoint: Path, row: dict, test_sets: dict) -> dict:
    """The model-card entry of `name`, whose weights are `checkpoint`, the grid's run `row` (its CSV row)."""
    spec = EMBEDDED[name]
    net = build_embedded(spec.arch, len(shapes.CLASSES))
    net.load_state_dict(load_file(checkpoint))
    net.eval()
    arm = hu.CPU.arms[row["model"]] if "cpu:" in str(row["device"]) else hu.FULL.arms[row["model"]]
    accuracy = {k: round(tr.evaluate(net, *test_sets[k]), 4) for k in ("test-full", "test-center")}
    return {
        "architecture": spec.arch,
        "timm_class": type(net).__module__ + "." + type(net).__name__,
        "parameters": sum(p.numel() for p in net.parameters()),
        "flops_per_image": tr.flops_per_image(net),
        "input_size": [3, shapes.CANVAS, shapes.CANVAS],
        "classes": list(shapes.CLASSES),
        "training_set": {"region": spec.region, "images": int(row["train_size"]), "seed": int(row["seed"]),
                         "pool_seed": hu.POOL_SEED, "augment_px": int(row["augment_px"]),
                         "object_size_px": list(shapes.SIZE_RANGE), "center_radius_px": shapes.CENTER_RADIUS},
        "recipe": {"optimizer": "AdamW", "steps": int(row["steps"]), "best_step": int(row["best_step"]),
                   "images_seen": int(row["images_seen"]), "converged": bool(row["converged"]),
                   "batch": min(arm.batch, int(row["train_size"])), "lr": float(row["lr"]),
                   "weight_decay": float(row["weight_decay"]),
                   "schedule": "warm-up, constant, early stop on validation, linear decay (core.train.EarlyStop)",
                   "bf16_autocast": arm.bf16 or str(row["device"]).startswith("cuda"), "torch_seed": int(row["seed"])},
        "test_accuracy": {"full_frame": accuracy["test-full"], "center": accuracy["test-center"],
                          "images": tr.TEST_SIZE, "seeds": {"full": tr.SEEDS["test-full"],
                                                            "center": tr.SEEDS["test-center"]},
                          "grid_test": float(row["test_accuracy"])},
        "training_seconds": float(row["seconds"]),
        "device": str(row["device"]),
        "torch_version": torch.__version__,
        "command": f"{row['command']}; python -m core.experiments ship --only {name}",
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m core.experiments ship", description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", choices=list(grid_models()))
    ap.add_argument("--checkpoints", type=Path, default=DEFAULT_CHECKPOINTS, help="where the grid saved them")
    ap.add_argument("--results", type=Path, default=hunger_results.HUNGER_FILE, help="the grid's CSV (the rows' numbers)")
    ap.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    args = ap.parse_args(argv)

    rows = {hu.cell_key(r): r for r in hunger_results.load(args.results).to_dict("records")}
    card_path = args.out / MODEL_CARD.name
    card = json.loads(card_path.read_text()) if card_path.exists() else {"models": {}}
    test_sets = {k: tr.dataset(k) for k in ("test-full", "test-center")}
    for name in args.only or list(grid_models()):
        spec = grid_models()[name]
        n, augment = spec.cell
        key = (spec.kind, n, SEED, augment)
        checkpoint = args.checkpoints / checkpoint_for(name)
        if key not in rows or not checkpoint.exists():
            raise SystemExit(f"{name}: the grid has not run cell {key} with --weights yet ({checkpoint} missing)")
        if not bool(rows[key]["converged"]):
            raise SystemExit(f"{name}: cell {key} hit its cap; a run that did not converge is not shipped")
        card["models"][name] = card_entry(name, checkpoint, rows[key], test_sets)
        shutil.copyfile(checkpoint, args.out / f"{name}.safetensors")
        card["models"] = {m: card["models"][m] for m in EMBEDDED if m in card["models"]}
        card_path.write_text(json.dumps(card, indent=2) + "\n")
        acc = card["models"][name]["test_accuracy"]
        print(f"{name}: test accuracy full frame {acc['full_frame']:.1%}, centre {acc['center']:.1%} "
              f"(grid test set {acc['grid_test']:.1%})", flush=True)
