"""Pre-train large, fine-tune small: does pre-training help the ViT more than the CNN?

The ViT paper's answer to "why ViTs need data" is pre-training: ViT-B/32 trails a ResNet after ImageNet-scale
pre-training and overtakes it after JFT-300M. This experiment tests the claim on the embedded architectures.

- Source task: the ten shape classes (core.shapes.CLASSES). The source checkpoints are the embedded `cnn` and `vit`
  (core/weights: 60,000 full-frame images each, trained to 99.0 % and 98.9 % on held-out images); each one's
  core/results/pretrained/<model>.json says how it was made and its accuracy on held-out source images.
- Target task: five shapes that never appear in pre-training (core.shapes.TARGET_CLASSES), N training images, three
  ways to start: `scratch` (random weights), `finetune` (every weight from the checkpoint, a new head) and
  `linear` (a linear probe: the checkpoint's features frozen, only the new head trained). Every run trains until
  its own validation set stops improving (core.train.EarlyStop) and is tested once on held-out target images.

    python -m core.experiments pretraining          # resumable: rows already in the CSV are skipped

Rows go to core/results/pretraining.csv as each run finishes.
"""
from __future__ import annotations

import argparse
import csv
import functools
import json
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
import torch
from safetensors.torch import load_file

from core import shapes
from core import train as tr
from core.experiments import RESULTS, hunger, pool
from core.models import WEIGHTS_DIR, build_embedded, model_card
from core.train import EarlyStop

PRETRAINING_FILE = RESULTS / "pretraining.csv"
CHECKPOINTS = RESULTS / "pretrained"
TARGET_SEED = 70_000  # target training + validation images of seed s: make_dataset(..., TARGET_SEED + s)
TARGET_TEST_SEED = 70_707
INITS = ("scratch", "finetune", "linear")
COLUMNS = ("model", "init", "target_size", "seed", "converged", "images_seen", "train_accuracy", "val_accuracy",
           "test_accuracy", "best_step", "steps", "seconds", "device", "command")
# Starting from a checkpoint there is no plateau at chance to wait out: fine-tuning and probes may stop early.
FROM_CHECKPOINT = EarlyStop(check_images=2_560, patience=6, min_images=10_240, max_images=320_000)
LINEAR_LR = 3e-3  # a linear probe learns one layer: a larger step than the whole network's recipe


@dataclass(frozen=True)
class Target:
    sizes: tuple[int, ...]
    seeds: int
    val_size: int
    test_size: int
    batch: dict = field(default_factory=lambda: {"cnn": 128, "vit": 64}, hash=False)  # each architecture's recipe
    scratch: dict = field(default_factory=lambda: {"cnn": hunger.CNN_STOP, "vit": hunger.VIT_STOP}, hash=False)
    from_checkpoint: EarlyStop = FROM_CHECKPOINT

    def stop(self, model: str, init: str) -> EarlyStop:
        return self.scratch[model] if init == "scratch" else self.from_checkpoint

    def cells(self, models=tuple(hunger.ARCHS), inits=INITS, cheap_first: bool = False
              ) -> list[tuple[str, str, int, int]]:
        """(model, init, N, seed). On a GPU the costliest first (ViT from scratch, large N) for load balance; with
        `cheap_first` (a CPU, where a session may stop mid-grid) size by size from the smallest, every start of
        both models at one size before the next, so that wherever the grid stops, the sizes it reached can be
        compared (a ViT from scratch takes ~15-30 min there, the rest minutes)."""
        cells = [(m, i, n, s) for m in models for i in inits for n in self.sizes for s in range(self.seeds)]
        if cheap_first:
            first = {"finetune": 0, "scratch": 1, "linear": 2}  # the two the comparison needs, the quick one first
            return sorted(cells, key=lambda c: (c[3], c[2], c[0], first.get(c[1], 3)))
        return sorted(cells, key=lambda c: (c[1] != "scratch", c[0] != "vit", -c[2], c[1], c[3]))


GRID = Target(sizes=(50, 100, 250, 500, 1_000, 2_500), seeds=1, val_size=1_000, test_size=2_000)


# --- the three ways to start ----------------------------------------------------------------------------------------
class LinearProbe(torch.nn.Module):
    """A network whose every weight is frozen except its (new) classifier, and which stays in eval mode (batch-norm
    statistics and dropout as in the checkpoint): training it trains a linear classifier on frozen features."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net
        for p in net.parameters():
            p.requires_grad_(False)
        for p in net.get_classifier().parameters():
            p.requires_grad_(True)
        self.net.eval()

    def train(self, mode: bool = True):
        super().train(mode)
        self.net.eval()  # whatever the trainer asks, the features stay those of the checkpoint
        return self

    def forward(self, x):
        return self.net(x)


def build(model: str, init: str, checkpoint: dict | None = None, classes: int = len(shapes.TARGET_CLASSES)
          ) -> torch.nn.Module:
    """The network a target run starts from: random (scratch), or the pre-trained weights with a new head of
    `classes` outputs, all trainable (finetune) or only the head (linear)."""
    arch = hunger.ARCHS[model]
    if init == "scratch":
        return build_embedded(arch, classes)
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}, not {init!r}")
    if checkpoint is None:
        raise ValueError(f"{init} needs the pre-trained checkpoint")
    net = build_embedded(arch, len(shapes.CLASSES))
    net.load_state_dict(checkpoint)
    net.reset_classifier(classes)  # a new, randomly initialised head for the new classes
    return net if init == "finetune" else LinearProbe(net)


# --- data -------------------------------------------------------------------------------------------------------------
def target_split(seed: int, n: int, grid: Target):
    """(train, val) of the target task for `seed`: uint8 images and labels; validation comes first in the draw."""
    x, y, _ = shapes.make_dataset(grid.val_size + n, TARGET_SEED + seed, "full", dtype=torch.uint8,
                                  classes=shapes.TARGET_CLASSES)
    v = grid.val_size
    return (x[v:], y[v:]), (x[:v], y[:v])


@functools.lru_cache(maxsize=2)  # the same held-out images for every run of a worker process: rendered once
def target_test(grid: Target):
    x, y, _ = shapes.make_dataset(grid.test_size, TARGET_TEST_SEED, "full", dtype=torch.uint8,
                                  classes=shapes.TARGET_CLASSES)
    return x, y


# --- the source checkpoints ------------------------------------------------------------------------------------------
def source_checkpoint(model: str) -> dict:
    """The embedded model's weights (core/weights/<model>.safetensors): the pre-trained start of a target run."""
    return load_file(str(WEIGHTS_DIR / f"{model}.safetensors"))


def source_info(model: str) -> dict:
    """How the source checkpoint was made, from the model card, and its accuracy on held-out source images (the
    card's full-frame test set: never trained on, and the checkpoint was not picked on it either)."""
    card = model_card()["models"][model]
    return {"model": model, "checkpoint": f"core/weights/{model}.safetensors", "images": card["training_set"]["images"],
            "steps": card["recipe"]["steps"], "batch": card["recipe"]["batch"],
            "val_accuracy": card["test_accuracy"]["full_frame"], "val_images": card["test_accuracy"]["images"],
            "device": card["device"], "command": card["command"]}


# --- one target run ---------------------------------------------------------------------------------------------------
def run_cell(model: str, init: str, n: int, seed: int, grid: Target, device: str = "cpu",
             checkpoint: dict | None = None, test=None) -> dict:
    """Train on N = `n` target images from `init` until validation stops improving; the row of the
    validation-picked checkpoint."""
    dev = torch.device(device)
    (x, y), (vx, vy) = target_split(seed, n, grid)
    tx, ty = test if test is not None else target_test(grid)
    x, y, vx, vy, tx, ty = (t.to(dev) for t in (x, y, vx, vy, tx, ty))
    torch.manual_seed(seed)
    net = build(model, init, checkpoint).to(dev)
    arch = hunger.ARCHS[model]
    arm = hunger.CPU.arms[model]
    lr, wd = (LINEAR_LR, 0.0) if init == "linear" else arm.configs[0]  # the data-hunger grid's recipe otherwise
    recipe = replace(tr.RECIPES[arch], steps=0, batch=min(grid.batch[model], n), lr=lr, weight_decay=wd,
                     bf16=dev.type == "cuda" or arm.bf16)
    t0 = time.perf_counter()
    log = tr.train(net, x, y, recipe, seed=seed, validate=lambda m: tr.evaluate(m, vx, vy, bf16=recipe.bf16),
                   early=grid.stop(model, init))
    sub = slice(0, min(n, hunger.TRAIN_ACCURACY_IMAGES))
    return {"model": model, "init": init, "target_size": n, "seed": seed, "converged": log["converged"],
            "images_seen": log["images_seen"],
            "train_accuracy": round(tr.evaluate(net, x[sub], y[sub], bf16=recipe.bf16), 4),
            "val_accuracy": round(log["best_score"], 4),
            "test_accuracy": round(tr.evaluate(net, tx, ty, bf16=recipe.bf16), 4),
            "best_step": log["best_step"], "steps": log["steps"], "seconds": round(time.perf_counter() - t0, 1),
            "device": tr.device_name(dev)}


def load(path: Path | None = None):
    """The shipped rows (or those at `path`) as a DataFrame, or None if there are none yet."""
    path = path or PRETRAINING_FILE
    return pd.read_csv(path) if path.exists() else None


def checkpoint_infos(where: Path | None = None) -> dict[str, dict]:
    """How each source checkpoint was made (its .json, written by the command), by model."""
    return {p.stem: json.loads(p.read_text()) for p in sorted((where or CHECKPOINTS).glob("*.json"))}


# --- the command -------------------------------------------------------------------------------------------------------
def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m core.experiments pretraining", description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cuda", "cpu"])
    ap.add_argument("--models", nargs="+", default=list(hunger.ARCHS), choices=list(hunger.ARCHS))
    ap.add_argument("--sizes", type=int, nargs="+", help="override the target sizes")
    ap.add_argument("--seeds", type=int, help="override the number of seeds")
    ap.add_argument("--max-images", type=int, help="cap every run's images seen (for trials: not converged)")
    ap.add_argument("--jobs", type=int, help="runs at once (default: 8 on a GPU, one per core on a CPU)")
    ap.add_argument("--threads", type=int, help="torch threads per run (default: cores / jobs). Two runs of two "
                    "threads on two cores are ~4x slower than two of one: OpenMP threads spin while they wait")
    ap.add_argument("--time-limit", type=float, default=0, help="start no new run after this many seconds")
    ap.add_argument("--checkpoints", type=Path, default=CHECKPOINTS, help="where the source checkpoints' .json go")
    ap.add_argument("--out", type=Path, default=PRETRAINING_FILE)
    ap.add_argument("--fresh", action="store_true", help="discard the rows already in --out")
    args = ap.parse_args(argv)

    grid = replace(GRID, **{k: v for k, v in (("sizes", tuple(args.sizes or ())), ("seeds", args.seeds)) if v})
    if args.max_images:
        cap = lambda s: replace(s, max_images=args.max_images, min_images=min(s.min_images, args.max_images))  # noqa
        grid = replace(grid, scratch={m: cap(s) for m, s in grid.scratch.items()},
                       from_checkpoint=cap(grid.from_checkpoint))
    command = pool.command_line("pretraining", argv if argv is not None else [],
                                ("--fresh", "--time-limit", "--jobs", "--threads", "--checkpoints", "--out"))
    t0 = time.perf_counter()
    args.checkpoints.mkdir(parents=True, exist_ok=True)
    for model in args.models:
        (args.checkpoints / f"{model}.json").write_text(json.dumps(source_info(model), indent=2) + "\n")

    rows = [] if args.fresh or not args.out.exists() else list(csv.DictReader(open(args.out)))
    other = {r["command"] for r in rows} - {command}
    if other:
        raise SystemExit(f"{args.out} holds rows of another command ({sorted(other)[0]!r}); "
                         "pass --fresh to replace them or --out for another file")
    key = lambda r: (r["model"], r["init"], int(r["target_size"]), int(r["seed"]))  # noqa: E731
    done = {key(r) for r in rows}
    todo = [c for c in grid.cells(tuple(args.models), cheap_first=args.device == "cpu") if c not in done]
    print(f"{len(todo)} target runs to train on {args.device}", flush=True)
    jobs = args.jobs or (8 if args.device == "cuda" else max(1, os.cpu_count() or 1))
    threads = args.threads or max(1, (os.cpu_count() or 1) // jobs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    checkpoints = {m: source_checkpoint(m) for m in args.models}

    def submit(executor, queue):
        if not queue:
            return None
        model, init, n, seed = queue.pop(0)
        return executor.submit(run_cell, model, init, n, seed, grid, args.device,
                               None if init == "scratch" else checkpoints[model])

    def finished(result):
        row = dict(result, command=command)
        rows.append(row)
        pool.write_rows(args.out, rows, list(COLUMNS), key)  # each finished run is on disk at once
        print(f"[{time.perf_counter() - t0:6.0f} s] {row['model']} {row['init']} N={row['target_size']} "
              f"seed={row['seed']}: train {row['train_accuracy']:.1%}, val {row['val_accuracy']:.1%}, "
              f"test {row['test_accuracy']:.1%} ({'converged' if row['converged'] else 'CAP'} after "
              f"{row['images_seen']:,} images)", flush=True)

    pool.run_pool(list(todo), submit, finished, jobs, args.device, threads,
                  lambda: not (args.time_limit and time.perf_counter() - t0 > args.time_limit))
    print(f"wrote {len(rows)} rows to {args.out} in {time.perf_counter() - t0:.0f} s", flush=True)
