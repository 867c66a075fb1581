"""Pre-train large, fine-tune small: does pre-training help the ViT more than the CNN? (issue #20)

The ViT paper's answer to "why ViTs need data" is pre-training: ViT-B/32 trails a ResNet after ImageNet-scale
pre-training and overtakes it after JFT-300M. This experiment tests the claim on the embedded architectures.

- Source task: the ten shape classes (core.shapes.CLASSES), the full frame, `SOURCE.size` images drawn from the data
  page's image pools (core.hunger, pool seed SOURCE_SEED, which no data-hunger run uses); each architecture is
  pre-trained once, its checkpoint picked on a validation set.
- Target task: five shapes that never appear in pre-training (core.shapes.TARGET_CLASSES), N training images, three
  ways to start: `scratch` (random weights), `finetune` (every weight from the checkpoint, a new head) and
  `linear` (a linear probe: the checkpoint's features frozen, only the new head trained). Each run is picked on
  its own validation set and tested once on held-out target images, as in the data-hunger grid.

    python -m core.experiments pretraining --device cuda      # the full experiment, resumable
    python -m core.experiments pretraining --quick            # a small version for 2 CPU cores

Checkpoints go to core/results/pretrained/<model>.safetensors (with a .json of how they were made) and are reused;
rows go to core/results/pretraining.csv as each run finishes, and runs already there are skipped.
"""
from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from core import hunger, shapes
from core.messages import Message, listing, say

RESULTS = Path(__file__).parent / "results"
PRETRAINING_FILE = RESULTS / "pretraining.csv"
CHECKPOINTS = RESULTS / "pretrained"
SOURCE_SEED = 9  # the data-hunger pools use seeds 0..2
TARGET_SEED = 70_000  # target training + validation images of seed s: make_dataset(..., TARGET_SEED + s)
TARGET_TEST_SEED = 70_707
INITS = ("scratch", "finetune", "linear")
COLUMNS = ("model", "init", "target_size", "seed", "train_accuracy", "val_accuracy", "test_accuracy", "best_step",
           "steps", "seconds", "device", "command")


@dataclass(frozen=True)
class Source:
    size: int  # pre-training images
    val_size: int  # validation images (the checkpoint is picked on them)
    steps: int
    batch: int
    checks: int = 20


@dataclass(frozen=True)
class Target:
    sizes: tuple[int, ...]
    seeds: int
    budget: hunger.Budget
    val_size: int
    test_size: int
    lr_linear: float = 3e-3  # a linear probe learns one layer: a larger step than the whole network's recipe

    def cells(self, models=tuple(hunger.ARCHS), inits=INITS) -> list[tuple[str, str, int, int]]:
        """(model, init, N, seed), the costliest first (ViT, large N) for load balance."""
        cells = [(m, i, n, s) for m in models for i in inits for n in self.sizes for s in range(self.seeds)]
        return sorted(cells, key=lambda c: (c[0] != "vit", -c[2], c[1], c[3]))


# 256k source images, 30k steps of 256 (30 epochs); target N from 50 to 5,000 with 3 seeds: for a GPU.
SOURCE = Source(size=256_000, val_size=4_000, steps=30_000, batch=256)
FULL = Target(sizes=(50, 100, 250, 500, 1_000, 2_500, 5_000), seeds=3,
              budget=hunger.Budget(batch=128, epochs=40, min_steps=500, max_steps=4_000), val_size=1_000,
              test_size=2_000)
# For 2 CPU cores: the plumbing and the shape of the answer, not the converged numbers.
SOURCE_QUICK = Source(size=16_000, val_size=1_000, steps=1_500, batch=64)
QUICK = Target(sizes=(50, 250, 1_000), seeds=1, budget=hunger.Budget(batch=64, epochs=30, min_steps=200, max_steps=800),
               val_size=500, test_size=1_000)


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
    from core.models import build_embedded

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


# --- pre-training -----------------------------------------------------------------------------------------------------
def pretrain(model: str, source: Source, device: str = "cpu", cache: Path | None = None) -> tuple[dict, dict]:
    """Train `model` on the source task; (the validation-picked weights, a log of how they were made)."""
    from core import train as tr
    from core.models import build_embedded

    dev = torch.device(device)
    (x, y, _), (vx, vy, _) = hunger.load_split(cache, source, SOURCE_SEED, source.size)
    x, y, vx, vy = x.to(dev), y.to(dev), vx.to(dev), vy.to(dev)
    arch = hunger.ARCHS[model]
    recipe = replace(tr.RECIPES[arch], steps=source.steps, batch=source.batch,
                     bf16=dev.type == "cuda" or tr.RECIPES[arch].bf16)
    torch.manual_seed(0)
    net = build_embedded(arch, len(shapes.CLASSES)).to(dev)
    t0 = time.perf_counter()
    log = tr.train(net, x, y, recipe, seed=0, validate=lambda m: tr.evaluate(m, vx, vy, bf16=recipe.bf16),
                   validate_every=max(1, recipe.steps // source.checks))
    info = {"model": model, "images": source.size, "val_images": source.val_size, "steps": log["steps"],
            "best_step": log["best_step"], "val_accuracy": round(log["best_score"], 4), "batch": recipe.batch,
            "lr": recipe.lr, "weight_decay": recipe.weight_decay, "seconds": round(time.perf_counter() - t0, 1),
            "device": tr.device_name(dev)}
    return {k: v.detach().cpu() for k, v in net.state_dict().items()}, info


def checkpoint_path(model: str, where: Path = CHECKPOINTS) -> Path:
    return where / f"{model}.safetensors"


def save_checkpoint(state: dict, info: dict, path: Path) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    path.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")


def load_checkpoint(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path))


# --- one target run ---------------------------------------------------------------------------------------------------
def run_cell(model: str, init: str, n: int, seed: int, grid: Target, device: str = "cpu",
             checkpoint: dict | None = None, test=None) -> dict:
    """Train on N = `n` target images from `init`; the row of the validation-picked checkpoint."""
    from core import train as tr

    dev = torch.device(device)
    (x, y), (vx, vy) = target_split(seed, n, grid)
    tx, ty = test if test is not None else target_test(grid)
    x, y, vx, vy, tx, ty = (t.to(dev) for t in (x, y, vx, vy, tx, ty))
    torch.manual_seed(seed)
    net = build(model, init, checkpoint).to(dev)
    arch = hunger.ARCHS[model]
    recipe = replace(tr.RECIPES[arch], steps=grid.budget.steps(n), batch=min(grid.budget.batch, n),
                     bf16=dev.type == "cuda" or tr.RECIPES[arch].bf16,
                     **({"lr": grid.lr_linear, "weight_decay": 0.0} if init == "linear" else {}))
    t0 = time.perf_counter()
    log = tr.train(net, x, y, recipe, seed=seed, validate=lambda m: tr.evaluate(m, vx, vy, bf16=recipe.bf16),
                   validate_every=max(1, recipe.steps // grid.budget.checks))
    sub = slice(0, min(n, hunger.TRAIN_ACCURACY_IMAGES))
    return {"model": model, "init": init, "target_size": n, "seed": seed,
            "train_accuracy": round(tr.evaluate(net, x[sub], y[sub], bf16=recipe.bf16), 4),
            "val_accuracy": round(log["best_score"], 4),
            "test_accuracy": round(tr.evaluate(net, tx, ty, bf16=recipe.bf16), 4),
            "best_step": log["best_step"], "steps": log["steps"], "seconds": round(time.perf_counter() - t0, 1),
            "device": tr.device_name(dev)}


# --- what the results say ------------------------------------------------------------------------------------------
def load(path: Path | None = None):
    """The shipped rows (or those at `path`) as a DataFrame, or None if there are none yet."""
    import pandas as pd

    path = path or PRETRAINING_FILE
    return pd.read_csv(path) if path.exists() else None


def checkpoint_infos(where: Path | None = None) -> dict[str, dict]:
    """How each shipped pre-trained checkpoint was made (its .json), by model."""
    return {p.stem: json.loads(p.read_text()) for p in sorted((where or CHECKPOINTS).glob("*.json"))}


def summary(rows) -> dict[tuple[str, str], dict[int, tuple[float, float, int]]]:
    """{(model, init): {N: (mean test accuracy, sample std over seeds, runs)}}."""
    out: dict = {}
    for (model, init, n), g in rows.groupby(["model", "init", "target_size"]):
        a = g["test_accuracy"].to_numpy(float)
        out.setdefault((model, init), {})[int(n)] = (float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0,
                                                     len(a))
    return out


def gain(summ, model: str, init: str = "finetune") -> dict[int, float]:
    """Test accuracy of `init` minus that of training from scratch, per N (where both were run)."""
    a, b = summ.get((model, init), {}), summ.get((model, "scratch"), {})
    return {n: a[n][0] - b[n][0] for n in sorted(set(a) & set(b))}


def method(rows, infos: dict[str, dict]) -> Message:
    sizes = sorted(int(n) for n in rows["target_size"].unique())
    source = listing((say("data.pretraining.source_model", model=m, images=hunger.fmt_n(int(i["images"])),
                          steps=int(i["steps"]), val=float(i["val_accuracy"])) for m, i in infos.items()), "semicolon")
    return say("data.pretraining.method", source=source,
               targets=listing(say(f"shape.{c}") for c in shapes.TARGET_CLASSES),
               sizes=listing((hunger.fmt_n(n) for n in sizes), "enumeration"), seeds=int(rows["seed"].nunique()),
               device=hunger.device_phrase(str(rows["device"].iloc[0])))


WEAK_SOURCE = 0.9  # a pre-trained checkpoint below this source validation accuracy has not learnt its task


def source_note(infos: dict[str, dict]) -> Message | None:
    """A warning when a pre-trained checkpoint is far from having learnt the source task: its transfer results then
    say little about what pre-training does (the quick CPU runs stop the ViT long before it converges)."""
    weak = [(m, float(i["val_accuracy"])) for m, i in infos.items() if float(i["val_accuracy"]) < WEAK_SOURCE]
    if not weak:
        return None
    return say("data.pretraining.weak_source", models=listing(
        (say("data.pretraining.weak_item", model=m, val=v) for m, v in weak), "and"), threshold=WEAK_SOURCE)


def reading(rows) -> list[Message]:
    """Does pre-training help the ViT more than the CNN here? The fine-tuning gain of each architecture at the
    smallest and the largest N, the verdict on their mean gain, and how far a linear probe gets."""
    summ = summary(rows)
    gains = {m: gain(summ, m) for m in hunger.ARCHS}
    if not all(gains.values()):
        return []
    out = []
    for n in sorted({min(g) for g in gains.values()} | {max(g) for g in gains.values()}):
        if all(n in g for g in gains.values()):
            out.append(say("data.pretraining.gain_at", n=hunger.fmt_n(n), items=listing(
                (say("data.pretraining.gain_item", model=m, scratch=summ[(m, "scratch")][n][0],
                     finetune=summ[(m, "finetune")][n][0], gain=gains[m][n] * 100) for m in hunger.ARCHS),
                "semicolon")))
    mean = {m: sum(g.values()) / len(g) for m, g in gains.items()}
    gains_pts = {"vit": mean["vit"] * 100, "cnn": mean["cnn"] * 100}
    out.append(say("data.pretraining.vit_gains_more", **gains_pts) if mean["vit"] > mean["cnn"] + 0.01 else
               say("data.pretraining.cnn_gains_more", **gains_pts) if mean["cnn"] > mean["vit"] + 0.01 else
               say("data.pretraining.same_gain", **gains_pts))
    probe = {m: summ.get((m, "linear"), {}) for m in hunger.ARCHS}
    if all(probe.values()):
        n = max(set.intersection(*(set(p) for p in probe.values())))
        out.append(say("data.pretraining.linear", n=hunger.fmt_n(n), items=listing(
            (say("data.pretraining.linear_item", model=m, probe=probe[m][n][0], finetune=summ[(m, "finetune")][n][0])
             for m in hunger.ARCHS), "semicolon")))
    return out


# --- the command -------------------------------------------------------------------------------------------------------
def main(argv=None) -> None:
    import argparse
    import csv
    import multiprocessing as mp
    import os
    from concurrent.futures import ProcessPoolExecutor

    ap = argparse.ArgumentParser(prog="python -m core.experiments pretraining", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="the small version for 2 CPU cores")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cuda", "cpu"])
    ap.add_argument("--models", nargs="+", default=list(hunger.ARCHS), choices=list(hunger.ARCHS))
    ap.add_argument("--sizes", type=int, nargs="+", help="override the target sizes")
    ap.add_argument("--seeds", type=int, help="override the number of seeds")
    ap.add_argument("--source-size", type=int, help="override the number of pre-training images")
    ap.add_argument("--source-steps", type=int, help="override the pre-training steps")
    ap.add_argument("--max-steps", type=int, help="cap every target run's steps (for trials)")
    ap.add_argument("--jobs", type=int, help="runs at once (default: 8 on a GPU, one per core on a CPU)")
    ap.add_argument("--time-limit", type=float, default=0, help="start no new run after this many seconds")
    ap.add_argument("--cache", type=Path, default=Path(os.environ.get("IBL_CACHE", "~/.cache/ibl")).expanduser() / "pools")
    ap.add_argument("--checkpoints", type=Path, default=CHECKPOINTS)
    ap.add_argument("--out", type=Path, default=PRETRAINING_FILE)
    ap.add_argument("--fresh", action="store_true", help="discard the rows already in --out (checkpoints are kept)")
    args = ap.parse_args(argv)

    source, grid = (SOURCE_QUICK, QUICK) if args.quick else (SOURCE, FULL)
    source = replace(source, **{k: v for k, v in (("size", args.source_size), ("steps", args.source_steps)) if v})
    grid = replace(grid, **{k: v for k, v in (("sizes", tuple(args.sizes or ())), ("seeds", args.seeds)) if v})
    if args.max_steps:
        grid = replace(grid, budget=replace(grid.budget, max_steps=args.max_steps,
                                            min_steps=min(grid.budget.min_steps, args.max_steps)))
    command = " ".join(["python -m core.experiments pretraining", *(argv if argv is not None else [])]).strip()
    for flag in ("--fresh", "--time-limit", "--jobs", "--cache", "--checkpoints", "--out"):
        command = hunger._drop_flag(command, flag)
    t0 = time.perf_counter()
    args.cache.mkdir(parents=True, exist_ok=True)
    def made_by_this_command(model: str) -> bool:  # a --quick checkpoint is never reused for the full run
        path = checkpoint_path(model, args.checkpoints)
        return path.exists() and json.loads(path.with_suffix(".json").read_text()).get("command") == command

    missing = [m for m in args.models if not made_by_this_command(m)]
    chunks = hunger.chunks_needed(source, source.size)
    if missing and chunks > 4:  # the source pool's chunks rendered on every core first (128 for the full source)
        with ProcessPoolExecutor(os.cpu_count() or 1, mp_context=mp.get_context("spawn")) as renderers:
            for job in [renderers.submit(hunger.render_chunk, args.cache, SOURCE_SEED, k) for k in range(chunks)]:
                job.result()
        print(f"source pool rendered in {time.perf_counter() - t0:.0f} s", flush=True)

    for model in args.models:  # once per architecture, kept between calls
        path = checkpoint_path(model, args.checkpoints)
        if made_by_this_command(model):
            print(f"{model}: pre-trained checkpoint {path} ({json.loads(path.with_suffix('.json').read_text())})")
            continue
        state, info = pretrain(model, source, args.device, args.cache)
        save_checkpoint(state, dict(info, command=command), path)
        print(f"[{time.perf_counter() - t0:6.0f} s] {model} pre-trained: {info}", flush=True)

    rows = [] if args.fresh or not args.out.exists() else list(csv.DictReader(open(args.out)))
    other = {r["command"] for r in rows} - {command}
    if other:
        raise SystemExit(f"{args.out} holds rows of another command ({sorted(other)[0]!r}); "
                         "pass --fresh to replace them or --out for another file")
    key = lambda r: (r["model"], r["init"], int(r["target_size"]), int(r["seed"]))  # noqa: E731
    done = {key(r) for r in rows}
    todo = [c for c in grid.cells(tuple(args.models)) if c not in done]
    print(f"{len(todo)} target runs to train on {args.device}", flush=True)
    jobs = args.jobs or (8 if args.device == "cuda" else max(1, os.cpu_count() or 1))
    threads = max(1, (os.cpu_count() or 1) // jobs)

    def write(all_rows):
        tmp = args.out.with_suffix(".tmp")
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
            w.writeheader()
            w.writerows(sorted(all_rows, key=key))
        tmp.replace(args.out)  # each finished run is on disk at once

    args.out.parent.mkdir(parents=True, exist_ok=True)
    checkpoints = {m: load_checkpoint(checkpoint_path(m, args.checkpoints)) for m in args.models}

    def submit(pool, queue):
        if not queue:
            return None
        model, init, n, seed = queue.pop(0)
        return pool.submit(run_cell, model, init, n, seed, grid, args.device,
                           None if init == "scratch" else checkpoints[model])

    def finished(result):
        row = dict(result, command=command)
        rows.append(row)
        write(rows)
        print(f"[{time.perf_counter() - t0:6.0f} s] {row['model']} {row['init']} N={row['target_size']} "
              f"seed={row['seed']}: train {row['train_accuracy']:.1%}, val {row['val_accuracy']:.1%}, "
              f"test {row['test_accuracy']:.1%} (best step {row['best_step']}/{row['steps']})", flush=True)

    hunger.run_pool(list(todo), submit, finished, jobs, args.device, threads,
                    lambda: not (args.time_limit and time.perf_counter() - t0 > args.time_limit))
    print(f"wrote {len(rows)} rows to {args.out} in {time.perf_counter() - t0:.0f} s", flush=True)
