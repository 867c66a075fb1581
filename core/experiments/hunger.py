"""Do ViTs need more data? Measured: the embedded CNN and ViT architectures trained from scratch on N images.

`python -m core.experiments hunger [--full] [--device cuda|cpu]` trains every (architecture, N, seed,
augmentation) *cell* until validation stops improving and writes one row per cell to core/results/data_hunger.csv
(core.experiments.hunger_results owns that file: its path, its columns, how its rows are read):

- every run stops by patience on its own validation split (core.train.EarlyStop), drawn from the cell's training
  seed, never the test set; `converged` says whether it did, or hit its cap instead (such a row is never read as
  a result); the best-scoring checkpoint is the one reported (train, validation and test accuracy);
- each architecture trains with the recipe of its embedded model (which converged on 60k images); the `--full`
  grid, for a GPU, also tries a learning-rate x weight-decay grid on seed 0 and keeps the best on validation;
- after training, the frozen network's features are probed on five shapes no run has seen (core.experiments.
  transfer: 5- and 25-shot linear probes), and for ViT rows what the ViT learned: mean attention distance per layer
  on a fixed probe set and the 2-D locality of its position embeddings, of the trained embedding and of what
  training added to its seeded initialisation (core.attention).

Training sets are nested: seed s's images come from one pool, rendered in chunks of CHUNK images, each chunk
from its own seed, so any prefix is deterministic and the chunks render in parallel (once, into a cache).
The validation split is the pool's first chunk(s); the training set of size N is the next N images.
The grid is resumable: rows already in the output file are kept and their cells skipped.
"""
from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from core import attention as att
from core import shapes
from core import train as tr
from core.experiments import hunger_results, pool, transfer
from core.experiments.hunger_results import ARCHS, AUGMENT_PX, MODELS, VARIANTS, kind  # noqa: F401  (the grid's models)
from core.models import build_embedded, initialisation
from core.train import EarlyStop, normalise

CHUNK = 2_000  # images per rendered chunk of a seed's pool (a multiple of the 10 classes: balanced chunks)
POOL_SEED = 40_000  # chunk k of seed s is shapes.make_dataset(CHUNK, POOL_SEED + 1000 * s + k)
TEST_SEED = 30_303
PROBE_SEED = 50_505
PROBE_SIZE = 256  # images on which every ViT's mean attention distance is measured
OBJECT_HALF = math.ceil(shapes.SIZE_RANGE[1] / 2)  # px: no object reaches further than this from its centre


@dataclass(frozen=True)
class Arm:
    """How one architecture trains in a grid: batch, the (lr, weight decay) configurations tried, when to stop."""
    batch: int
    configs: tuple[tuple[float, float], ...]
    stop: EarlyStop
    bf16: bool = False  # on a CPU only where it measured faster (core.train.RECIPES); always on a GPU


@dataclass(frozen=True)
class Grid:
    name: str
    sizes: tuple[int, ...]
    seeds: int
    augments: tuple[int, ...]  # max translation in px; 0 = no augmentation
    arms: dict = field(hash=False)  # {model: Arm}
    val_size: int
    test_size: int
    # the order sizes are trained in (default: as listed): where the series differ most comes first, so that a
    # grid cut short by the clock has already answered the question
    priority: tuple[int, ...] = ()
    more_seeds: tuple[tuple[int, int], ...] = ()  # (N, seeds): sizes that get more seeds than `seeds`
    variant_sizes: tuple[int, ...] = ()  # where the VARIANTS train: around the sizes where the series cross

    def seeds_at(self, n: int) -> int:
        return max(self.seeds, dict(self.more_seeds).get(n, 0))

    def cells(self, models=tuple(MODELS)) -> list[tuple[str, int, int, int]]:
        """(model, N, seed, augment px) of every run: the two series' cells (seed 0 first: the others may wait for
        its configuration; then the sizes by priority, the ViT first within a size, its runs are the long ones),
        then the variants', smallest size first, cheapest variant first within a size."""
        rank = {n: i for i, n in enumerate(self.priority or self.sizes)}
        cells = [(m, n, s, a) for m in models if m in ARCHS for n in self.sizes for s in range(self.seeds_at(n))
                 for a in self.augments]
        variants = [(m, n, 0, 0) for m in models if m in VARIANTS for n in self.variant_sizes]
        cost = list(VARIANTS)  # listed cheapest first
        return (sorted(cells, key=lambda c: (c[2] != 0, rank.get(c[1], len(rank)), c[0] != "vit", c[2], c[3]))
                + sorted(variants, key=lambda c: (c[1], cost.index(c[0]))))


# When patience may stop a run: the embedded ViT needed 320k images seen for 98.9 %; ViT runs at N = 1k climb off
# chance within 20k images and kept gaining until 190k-290k images in trial runs, hence the ViT's minimum of 160k
# before patience may stop it (8x the plateau) and a cap of 1.28M. (What these cost on a CPU: bench/README.md.)
CNN_STOP = EarlyStop(check_images=5_120, patience=8, min_images=40_960, max_images=640_000)
VIT_STOP = EarlyStop(check_images=12_800, patience=6, min_images=160_000, max_images=1_280_000)
CPU = Grid("cpu", sizes=(250, 1_000, 2_000, 4_000, 8_000, 16_000), seeds=1, augments=(0, AUGMENT_PX),
           arms={"cnn": Arm(128, ((2e-3, 5e-4),), CNN_STOP, bf16=True), "vit": Arm(64, ((1.5e-3, 0.05),), VIT_STOP)},
           val_size=2_000, test_size=2_000, priority=(1_000, 4_000, 16_000, 250, 2_000, 8_000),
           # a second seed where the series differ most (with augmentation the ViT 99 %, the CNN 75 %)
           more_seeds=((1_000, 2),), variant_sizes=(1_000, 2_000, 4_000))
# The full grid, for a GPU: 10 sizes from 250 to 128k, 3 seeds, 2 x 2 configurations tried on seed 0 (the other
# seeds train with the one seed 0 chose), batch 256.
FULL = Grid("full", sizes=(250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000), seeds=3,
            augments=(0, AUGMENT_PX),
            arms={m: Arm(256, ((1e-3, 0.05), (1e-3, 0.3), (3e-3, 0.05), (3e-3, 0.3)),
                         replace(stop, check_images=2 * stop.check_images)) for m, stop in
                  (("cnn", CNN_STOP), ("vit", VIT_STOP))},
            variant_sizes=(1_000, 2_000, 4_000, 8_000),
            val_size=2_000, test_size=2_000)
GRIDS = {"cpu": CPU, "full": FULL}

TRAIN_ACCURACY_IMAGES = 2_000  # training accuracy is measured on (up to) this many of the training images


# --- data ----------------------------------------------------------------------------------------------------------
def pool_chunk(seed: int, k: int):
    """Chunk k of seed `seed`'s image pool: (uint8 images [CHUNK, 3, 64, 64], labels [CHUNK], centres [CHUNK, 2])."""
    return shapes.make_dataset(CHUNK, POOL_SEED + 1000 * seed + k, "full", dtype=torch.uint8)


def _chunk_path(cache: Path, seed: int, k: int) -> Path:
    return cache / f"pool-s{seed}-c{k}.pt"


def render_chunk(cache: Path, seed: int, k: int) -> None:
    path = _chunk_path(cache, seed, k)
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        torch.save(pool_chunk(seed, k), tmp)
        tmp.replace(path)  # atomic: a killed render never leaves half a chunk behind


def chunks_needed(grid: Grid, n: int) -> int:
    return math.ceil((grid.val_size + n) / CHUNK)


def load_split(cache: Path | None, grid: Grid, seed: int, n: int):
    """(train, val) for seed `seed` and N = `n`, each (images uint8, labels, centres): validation is the pool's
    first `grid.val_size` images, training the next `n`. Chunks come from `cache` when given (rendering the
    missing ones), else are rendered here."""
    parts = []
    for k in range(chunks_needed(grid, n)):
        if cache is None:
            parts.append(pool_chunk(seed, k))
        else:
            render_chunk(cache, seed, k)
            parts.append(torch.load(_chunk_path(cache, seed, k)))
    images, labels, centres = (torch.cat(t) for t in zip(*parts))
    v = grid.val_size
    val = (images[:v], labels[:v], centres[:v])
    train = (images[v:v + n], labels[v:v + n], centres[v:v + n])
    return train, val


def test_set(n: int = 2_000):
    """The held-out test images (full frame, their own seed): never used for training or model selection."""
    return shapes.make_dataset(n, TEST_SEED, "full", dtype=torch.uint8)


def probe_set():
    return shapes.make_dataset(PROBE_SIZE, PROBE_SEED, "full")[0]


def shift_within_frame(images: torch.Tensor, centres: torch.Tensor, max_px: int,
                       generator: torch.Generator) -> torch.Tensor:
    """Translation augmentation: move each image's content by its own (dx, dy), |dx|, |dy| <= max_px, limited so
    the object (centre `centres`, at most OBJECT_HALF px from it) stays whole inside the frame. The uncovered
    border repeats the edge pixels (the backgrounds are smooth gradients), so nothing wraps around."""
    b, _, h, w = images.shape
    c = centres.cpu()

    def draw(centre, size):
        lo = torch.clamp(torch.ceil(OBJECT_HALF - centre), min=-max_px, max=0)
        hi = torch.clamp(torch.floor(size - OBJECT_HALF - centre), min=0, max=max_px)
        u = torch.rand(b, generator=generator)
        return (lo + torch.floor(u * (hi - lo + 1))).clamp(max=hi).long()

    dx, dy = draw(c[:, 0], w).to(images.device), draw(c[:, 1], h).to(images.device)
    cols = (torch.arange(w, device=images.device) - dx[:, None]).clamp(0, w - 1)  # [B, W]: source column
    rows = (torch.arange(h, device=images.device) - dy[:, None]).clamp(0, h - 1)
    out = images.gather(2, rows[:, None, :, None].expand(b, images.shape[1], h, w))
    return out.gather(3, cols[:, None, None, :].expand(b, images.shape[1], h, w))


# --- one cell --------------------------------------------------------------------------------------------------------
def vit_probe_metrics(net: torch.nn.Module, probe: torch.Tensor, seed: int, arch: str = "vit") -> dict:
    """mad_layer_1..L (px, mean over heads and probe images) of a trained ViT, and the 2-D locality of its
    position embeddings: as trained, and of what training added to the initialisation drawn with torch seed `seed`
    (weight decay does not reach pos_embed, so the random start, std 0.02, stays in the trained embedding)."""
    net = net.cpu().float().eval()
    mad = att.attention_distance_over(net, normalise(probe), chunk=64).mean(-1)
    out = {f"mad_layer_{i + 1}": round(float(d), 3) for i, d in enumerate(mad)}
    out["pos_embed_locality"] = round(att.pos_embed_locality(net), 4)
    out["pos_embed_learnt_locality"] = round(att.learnt_pos_embed_locality(net, initialisation(arch, seed)), 4)
    return out


def checkpoint_name(model: str, n: int, seed: int, augment: int) -> str:
    """The file a cell's checkpoint is saved as, e.g. vit-aug8-n2000-s0.safetensors."""
    return f"{model}{f'-aug{augment}' if augment else ''}-n{n}-s{seed}.safetensors"


def run_cell(model: str, n: int, seed: int, augment: int, grid: Grid, device: str = "cpu", cache: Path | None = None,
             test=None, probe=None, configs: list[tuple[float, float]] | None = None,
             weights: Path | None = None) -> dict:
    """Train `model` on N = `n` images of seed `seed` with each (lr, weight decay) of `configs` (default: the
    grid's) until validation stops improving; the row of the one best on validation (its checkpoint picked on
    validation too), with train/val/test accuracy, whether it converged, and its features' transfer. With
    `weights`, that checkpoint is saved there (checkpoint_name): a small-data model to ship beside the embedded
    ones."""
    dev = torch.device(device)
    arch, arm = MODELS[model], grid.arms[kind(model)]
    (x, y, centres), (vx, vy, _) = load_split(cache, grid, seed, n)
    x, y, vx, vy = x.to(dev), y.to(dev), vx.to(dev), vy.to(dev)
    tx, ty, _ = test if test is not None else test_set(grid.test_size)
    tx, ty = tx.to(dev), ty.to(dev)
    sub = torch.arange(min(n, TRAIN_ACCURACY_IMAGES))
    bf16 = dev.type == "cuda" or arm.bf16
    best, t0 = None, time.perf_counter()
    for lr, wd in configs or arm.configs:
        recipe = replace(tr.RECIPES[ARCHS[kind(model)]], steps=0, batch=min(arm.batch, n), lr=lr, weight_decay=wd, bf16=bf16)
        torch.manual_seed(seed)
        net = build_embedded(arch, len(shapes.CLASSES)).to(dev)
        gen = torch.Generator().manual_seed(seed)
        transform = (lambda b, idx: shift_within_frame(b, centres[idx.cpu()], augment, gen)) if augment else None
        log = tr.train(net, x, y, recipe, seed=seed, transform=transform,
                       validate=lambda m: tr.evaluate(m, vx, vy, bf16=bf16), early=arm.stop)
        if best is None or log["best_score"] > best[1]["best_score"]:
            best = (net, log, recipe)
    net, log, recipe = best
    row = {"model": model, "train_size": n, "seed": seed, "augment_px": augment, "converged": log["converged"],
           "images_seen": log["images_seen"], "steps": log["steps"], "best_step": log["best_step"], "lr": recipe.lr,
           "weight_decay": recipe.weight_decay,
           "train_accuracy": round(tr.evaluate(net, x[sub.to(dev)], y[sub.to(dev)], bf16=bf16), 4),
           "val_accuracy": round(log["best_score"], 4),
           "test_accuracy": round(tr.evaluate(net, tx, ty, bf16=bf16), 4),
           **transfer.few_shot(net.cpu().float()),
           "seconds": round(time.perf_counter() - t0, 1), "device": tr.device_name(dev)}
    if kind(model) == "vit":
        row.update(vit_probe_metrics(net, probe if probe is not None else probe_set(), seed, arch))
    if weights is not None:
        from safetensors.torch import save_file  # deferred: only a run that ships its checkpoint needs it

        weights.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()},
                  str(weights / checkpoint_name(model, n, seed, augment)),
                  metadata={k: str(row[k]) for k in ("model", "train_size", "seed", "augment_px", "converged",
                                                     "test_accuracy", "lr", "weight_decay")})
    return row


# --- a short live run (the page's "train now") -----------------------------------------------------------------------
LIVE_BATCH, LIVE_LR, LIVE_WD = 64, 1.5e-3, 0.05  # one configuration for both architectures: a quick point


def live_run(model: str, n: int, steps: int, test=None, progress=None, should_stop=None) -> dict:
    """Train `model` on the first N images of seed 0 for a fixed number of steps (no validation, one
    configuration): a quick point to set beside the shipped curves. Train and test accuracy of the last step."""
    arch = ARCHS[model]
    t0 = time.perf_counter()
    (x, y, _), _ = load_split(None, replace(CPU, val_size=0), 0, n)
    rendered = time.perf_counter() - t0
    recipe = replace(tr.RECIPES[arch], steps=steps, batch=min(LIVE_BATCH, n), lr=LIVE_LR, weight_decay=LIVE_WD)
    torch.manual_seed(0)
    net = build_embedded(arch, len(shapes.CLASSES))
    log = tr.train(net, x, y, recipe, progress=progress, should_stop=should_stop)
    tx, ty, _ = test if test is not None else test_set()
    t0 = time.perf_counter()
    train_acc = tr.evaluate(net, x[:TRAIN_ACCURACY_IMAGES], y[:TRAIN_ACCURACY_IMAGES])
    test_acc = tr.evaluate(net, tx, ty)
    return {"model": model, "train_size": n, "seed": 0, "augment_px": 0, "steps": log["steps"],
            "train_accuracy": train_acc, "test_accuracy": test_acc, "seconds": round(log["seconds"], 1),
            "render_seconds": round(rendered, 2), "eval_seconds": round(time.perf_counter() - t0, 2)}


# what a live run costs: the page's estimate before "train now". Seconds per rendered image, per training step and per
# evaluated image of each model, measured on an idle 2-core machine with one torch thread (bench/README.md); a page
# replaces them with what each finished live run measures on its server (learn_rates)
LIVE_RATES = {"render": 0.68e-3, "step": {"cnn": 0.10, "vit": 0.23}, "eval": {"cnn": 1.33e-3, "vit": 1.44e-3}}


def rendered_images(n: int) -> int:
    """A run of N images renders whole chunks."""
    return math.ceil(n / CHUNK) * CHUNK


def evaluated_images(n: int, test_images: int) -> int:
    """A run is evaluated on the test images and on up to TRAIN_ACCURACY_IMAGES of its training images."""
    return test_images + min(n, TRAIN_ACCURACY_IMAGES)


def live_seconds(runs: list[tuple[str, int, int]], rates: dict, test_images: int = 2_000) -> float:
    """Seconds for the queued (model, N, steps) runs: rendering the N training images (whole chunks), the steps, and
    evaluating the test images and up to TRAIN_ACCURACY_IMAGES training images."""
    return sum(rates["render"] * rendered_images(n) + rates["step"][model] * steps
               + rates["eval"][model] * evaluated_images(n, test_images) for model, n, steps in runs)


def learn_rates(rates: dict, row: dict, test_images: int) -> None:
    """Replace `rates` (in place) with what the finished live run `row` (live_run's) measured."""
    model, n = row["model"], row["train_size"]
    rates["render"] = row["render_seconds"] / rendered_images(n)
    rates["step"][model] = row["seconds"] / max(1, row["steps"])
    rates["eval"][model] = row["eval_seconds"] / evaluated_images(n, test_images)


# --- the command -------------------------------------------------------------------------------------------------------
def cell_key(r: dict) -> tuple[str, int, int, int]:
    return r["model"], int(r["train_size"]), int(r["seed"]), int(r["augment_px"])


def _worker_run(cell: tuple, grid: Grid, cache: Path, configs, weights: Path | None = None) -> dict:
    worker = pool.WORKER
    if "test" not in worker:
        worker["test"], worker["probe"] = test_set(grid.test_size), probe_set()
    model, n, seed, augment = cell
    return run_cell(model, n, seed, augment, grid, worker["device"], cache, worker["test"], worker["probe"],
                    configs, weights)


def configs_for(cell: tuple, grid: Grid, rows: list[dict]) -> list[tuple[float, float]] | None:
    """The configurations cell `cell` tries: all of its architecture's for seed 0, else the one seed 0 chose for
    the same model, N and augmentation; None while seed 0 has not finished."""
    model, n, seed, augment = cell
    configs = list(grid.arms[kind(model)].configs)
    if seed == 0 or len(configs) == 1:
        return configs
    for r in rows:
        if cell_key(r) == (model, n, 0, augment):
            return [(float(r["lr"]), float(r["weight_decay"]))]
    return None


def _render_pools(pool, grid: Grid, cache: Path) -> None:
    top = {s: max(n for n in grid.sizes if grid.seeds_at(n) > s) for s in range(max(map(grid.seeds_at, grid.sizes)))}
    jobs = [pool.submit(render_chunk, cache, s, k) for s, n in top.items() for k in range(chunks_needed(grid, n))]
    for j in jobs:
        j.result()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m core.experiments hunger", description=__doc__.split("\n\n")[0])
    ap.add_argument("--full", action="store_true", help="the full grid, for a GPU (the default where one is found)")
    ap.add_argument("--cpu", action="store_true", help="the grid sized for 2 CPU cores (the default without a GPU)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cuda", "cpu"])
    ap.add_argument("--sizes", type=int, nargs="+", help="override the grid's training-set sizes")
    ap.add_argument("--seeds", type=int, help="override the grid's number of seeds")
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    ap.add_argument("--max-images", type=int, help="cap every run's images seen (for trials: such runs are not "
                    "converged)")
    ap.add_argument("--jobs", type=int, help="cells trained at once (default: 8 on a GPU, one per core on a CPU)")
    ap.add_argument("--threads", type=int, help="torch threads per run (default: cores / jobs). Two runs of two "
                    "threads on two cores are ~4x slower than two of one: OpenMP threads spin while they wait")
    ap.add_argument("--time-limit", type=float, default=0, help="start no new cell after this many seconds")
    ap.add_argument("--cache", type=Path, default=Path(os.environ.get("IBL_CACHE", "~/.cache/ibl")).expanduser() / "pools")
    ap.add_argument("--out", type=Path, default=hunger_results.HUNGER_FILE)
    ap.add_argument("--weights", type=Path, default=Path(os.environ.get("IBL_CACHE", "~/.cache/ibl")).expanduser()
                    / "checkpoints", help="where each cell's checkpoint is saved (small-data models to ship)")
    ap.add_argument("--fresh", action="store_true", help="discard the rows already in --out")
    ap.add_argument("--plan", action="store_true", help="print the cells, train nothing")
    args = ap.parse_args(argv)

    grid = FULL if args.full or (args.device == "cuda" and not args.cpu) else CPU
    if args.sizes:
        grid = replace(grid, sizes=tuple(args.sizes),
                       variant_sizes=tuple(n for n in grid.variant_sizes if n in args.sizes))
    if args.seeds:
        grid = replace(grid, seeds=args.seeds, more_seeds=())
    if args.max_images:
        grid = replace(grid, arms={m: replace(a, stop=replace(a.stop, max_images=args.max_images, min_images=min(
            a.stop.min_images, args.max_images))) for m, a in grid.arms.items()})
    command = pool.command_line("hunger", argv if argv is not None else [],
                                ("--fresh", "--time-limit", "--jobs", "--threads", "--cache", "--out", "--weights",
                                 "--models"))
    cells = grid.cells(tuple(args.models))
    if args.plan:
        for c in cells:
            print(*c)
        print(f"{len(cells)} cells of the {grid.name} grid")
        return

    rows = [] if args.fresh or not args.out.exists() else hunger_results.load(args.out).to_dict("records")
    other = {r["command"] for r in rows} - {command}
    if other:
        raise SystemExit(f"{args.out} holds rows of another command ({sorted(other)[0]!r}); "
                         "pass --fresh to replace them or --out for another file")
    todo = [c for c in cells if c not in {cell_key(r) for r in rows}]
    print(f"{len(todo)} of {len(cells)} cells of the {grid.name} grid to train on {args.device}", flush=True)
    jobs = args.jobs or (8 if args.device == "cuda" else max(1, os.cpu_count() or 1))
    threads = args.threads or max(1, (os.cpu_count() or 1) // jobs)
    args.cache.mkdir(parents=True, exist_ok=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    has_vit = any(kind(m) == "vit" for m in [*args.models, *(r["model"] for r in rows)])
    # a rewrite keeps every column it read
    fields = list(hunger_results.COLUMNS) + (list(hunger_results.VIT_COLUMNS) if has_vit else [])
    order = lambda r: (r["model"], int(r["augment_px"]), int(r["train_size"]), int(r["seed"]))  # noqa: E731

    t0 = time.perf_counter()
    with ProcessPoolExecutor(os.cpu_count() or 1, mp_context=mp.get_context("spawn")) as renderers:
        _render_pools(renderers, grid, args.cache)  # every chunk once, on every core
    print(f"pools rendered in {time.perf_counter() - t0:.0f} s", flush=True)

    def submit(executor, queue):
        ready = next(((c, cfg) for c in queue if (cfg := configs_for(c, grid, rows)) is not None), None)
        if ready is None:
            return None  # the rest wait for their seed-0 cell
        queue.remove(ready[0])
        return executor.submit(_worker_run, ready[0], grid, args.cache, ready[1], args.weights)

    def finished(result):
        row = dict(result, command=command)
        rows.append(row)
        pool.write_rows(args.out, rows, fields, order)  # each finished cell is on disk at once
        print(f"[{time.perf_counter() - t0:6.0f} s] {row['model']} N={row['train_size']} seed={row['seed']} "
              f"aug={row['augment_px']}: train {row['train_accuracy']:.1%}, val {row['val_accuracy']:.1%}, "
              f"test {row['test_accuracy']:.1%}, 5/25-shot {row['transfer_5shot']:.1%}/{row['transfer_25shot']:.1%} "
              f"({'converged' if row['converged'] else 'CAP'} after {row['images_seen']:,} images, best step "
              f"{row['best_step']}/{row['steps']}, {row['seconds']:.0f} s)", flush=True)

    pool.run_pool(list(todo), submit, finished, jobs, args.device, threads,
                  lambda: not (args.time_limit and time.perf_counter() - t0 > args.time_limit))
    left = len([c for c in cells if c not in {cell_key(r) for r in rows}])
    print(f"wrote {len(rows)} rows to {args.out} in {time.perf_counter() - t0:.0f} s; {left} cells left", flush=True)
    if rows:
        print(hunger_results.markdown_table(rows))
