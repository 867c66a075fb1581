"""Why ViTs need data, measured: the embedded CNN and ViT architectures trained from scratch on N images.

`python -m core.experiments hunger [--quick] [--device cuda|cpu]` trains every (architecture, N, seed,
augmentation) *cell* to convergence and writes one row per cell to core/results/data_hunger.csv:

- the step budget grows with N (`Budget.steps`: many epochs for small N, many steps for large N);
- a validation split drawn from the cell's training seed (never the test set) scores the model during
  training; the best-scoring checkpoint is the one reported (train, validation and test accuracy);
- every cell tries the same learning-rate x weight-decay grid, whatever the architecture, and keeps the
  configuration that is best on validation;
- for ViT rows, what the ViT learned: mean attention distance per layer on a fixed probe set and the
  2-D locality of its position embeddings (core.attention).

Training sets are nested: seed s's images come from one pool, rendered in chunks of CHUNK images, each chunk
from its own seed, so any prefix is deterministic and the chunks render in parallel (once, into a cache).
The validation split is the pool's first chunk(s); the training set of size N is the next N images.
The grid is resumable: rows already in the output file are kept and their cells skipped.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path

import numpy as np
import torch

from core import shapes
from core.messages import Message, listing, say

ARCHS = {"cnn": "resnet", "vit": "vit"}
HUNGER_FILE = Path(__file__).parent / "results" / "data_hunger.csv"
CHUNK = 2_000  # images per rendered chunk of a seed's pool (a multiple of the 10 classes: balanced chunks)
POOL_SEED = 40_000  # chunk k of seed s is shapes.make_dataset(CHUNK, POOL_SEED + 1000 * s + k)
TEST_SEED = 30_303
PROBE_SEED = 50_505
PROBE_SIZE = 256  # images on which every ViT's mean attention distance is measured
OBJECT_HALF = math.ceil(shapes.SIZE_RANGE[1] / 2)  # px: no object reaches further than this from its centre


@dataclass(frozen=True)
class Budget:
    """Optimizer steps for a training set of N images: `epochs` passes, but at least `min_steps` (small sets
    need many epochs to fit) and at most `max_steps` (large sets converge in fewer passes)."""
    batch: int
    epochs: float
    min_steps: int
    max_steps: int
    checks: int = 16  # validation checks per run (the checkpoint is picked among these)

    def steps(self, n: int) -> int:
        return int(min(self.max_steps, max(self.min_steps, math.ceil(self.epochs * n / self.batch))))


@dataclass(frozen=True)
class Grid:
    name: str
    sizes: tuple[int, ...]
    seeds: int
    augments: tuple[int, ...]  # max translation in px; 0 = no augmentation
    lrs: tuple[float, ...]
    weight_decays: tuple[float, ...]
    budget: Budget
    val_size: int
    test_size: int
    # choose lr and weight decay on seed 0's validation set for each (model, N, augmentation) and train the
    # other seeds with that configuration only: the usual practice, and it divides the grid's cost by ~2
    tune_on_first_seed: bool = True

    @property
    def configs(self) -> list[tuple[float, float]]:
        return [(lr, wd) for lr in self.lrs for wd in self.weight_decays]

    def cells(self, models=tuple(ARCHS)) -> list[tuple[str, int, int, int]]:
        """(model, N, seed, augment px) of every run: seed 0 first (the others may wait for its configuration),
        then the costliest first (ViT, large N) for load balance."""
        cells = [(m, n, s, a) for m in models for n in self.sizes for s in range(self.seeds) for a in self.augments]
        return sorted(cells, key=lambda c: (c[2] != 0, c[0] != "vit", -self.budget.steps(c[1]), c[2], c[3]))

    def total_steps(self, models=tuple(ARCHS)) -> dict[str, int]:
        out = dict.fromkeys(models, 0)
        for m, n, s, _ in self.cells(models):
            tried = 1 if self.tune_on_first_seed and s > 0 else len(self.configs)
            out[m] += self.budget.steps(n) * tried
        return out


# The full grid, for a GPU: 10 sizes from 250 to 128k, 3 seeds, with and without augmentation, 2 x 2 configs
# tried on seed 0. At least 1,000 steps (the ViT's loss sits near chance for its first few hundred), at most
# 5,000 (1.3M images seen at N = 64k and 128k, 4x what the embedded ViT needed for 98.9 %): ~260k steps per
# architecture, ~25 min of one H200 at the measured ~2 ms (ResNet) / ~4 ms (ViT) per step with 8 processes
# sharing it; `--time-limit` and the resumable CSV split that over calls.
FULL = Grid("full", sizes=(250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000), seeds=3,
            augments=(0, 8), lrs=(1e-3, 3e-3), weight_decays=(0.05, 0.3),
            budget=Budget(batch=256, epochs=30, min_steps=1_000, max_steps=5_000), val_size=2_000, test_size=2_000)
# The same experiment cut to ~35 min of 2 CPU cores: 4 sizes, 1 seed, one configuration (the embedded ViT's).
QUICK = Grid("quick", sizes=(250, 1_000, 4_000, 16_000), seeds=1, augments=(0, 8), lrs=(1.5e-3,),
             weight_decays=(0.05,), budget=Budget(batch=64, epochs=40, min_steps=500, max_steps=2_000),
             val_size=1_000, test_size=2_000)
AUGMENT_PX = 8

COLUMNS = ("model", "train_size", "seed", "augment_px", "steps", "best_step", "lr", "weight_decay", "train_accuracy",
           "val_accuracy", "test_accuracy", "seconds", "device", "command")
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
def _recipe(arch: str, grid: Grid, n: int, lr: float, wd: float, device: torch.device):
    from core import train as tr

    # bf16 autocast everywhere on a GPU; on a CPU only where it measured faster (core.train.RECIPES)
    bf16 = device.type == "cuda" or tr.RECIPES[arch].bf16
    return replace(tr.RECIPES[arch], steps=grid.budget.steps(n), batch=min(grid.budget.batch, n), lr=lr,
                   weight_decay=wd, bf16=bf16)


def vit_probe_metrics(net: torch.nn.Module, probe: torch.Tensor) -> dict:
    """mad_layer_1..L (px, mean over heads and probe images) and pos_embed_locality of a trained ViT."""
    from core import attention as at
    from core.train import normalise

    net = net.cpu().float().eval()
    mad = at.attention_distance_over(net, normalise(probe), chunk=64).mean(-1)
    out = {f"mad_layer_{i + 1}": round(float(d), 3) for i, d in enumerate(mad)}
    out["pos_embed_locality"] = round(at.pos_embed_locality(net), 4)
    return out


def run_cell(model: str, n: int, seed: int, augment: int, grid: Grid, device: str = "cpu", cache: Path | None = None,
             test=None, probe=None, configs: list[tuple[float, float]] | None = None) -> dict:
    """Train `model` on N = `n` images of seed `seed` with each (lr, weight decay) of `configs` (default: the
    grid's); the row of the one best on validation (its checkpoint picked on validation too), with
    train/val/test accuracy."""
    from core import train as tr
    from core.models import build_embedded

    dev = torch.device(device)
    arch = ARCHS[model]
    (x, y, centres), (vx, vy, _) = load_split(cache, grid, seed, n)
    x, y, vx, vy = x.to(dev), y.to(dev), vx.to(dev), vy.to(dev)
    tx, ty, _ = test if test is not None else test_set(grid.test_size)
    tx, ty = tx.to(dev), ty.to(dev)
    sub = torch.arange(min(n, TRAIN_ACCURACY_IMAGES))
    best, t0 = None, time.perf_counter()
    for lr, wd in configs or grid.configs:
        recipe = _recipe(arch, grid, n, lr, wd, dev)
        torch.manual_seed(seed)
        net = build_embedded(arch, len(shapes.CLASSES)).to(dev)
        gen = torch.Generator().manual_seed(seed)
        transform = (lambda b, idx: shift_within_frame(b, centres[idx.cpu()], augment, gen)) if augment else None
        log = tr.train(net, x, y, recipe, seed=seed, transform=transform,
                       validate=lambda m: tr.evaluate(m, vx, vy, bf16=recipe.bf16),
                       validate_every=max(1, recipe.steps // grid.budget.checks))
        if best is None or log["best_score"] > best[1]["best_score"]:
            best = (net, log, recipe)
    net, log, recipe = best
    row = {"model": model, "train_size": n, "seed": seed, "augment_px": augment, "steps": log["steps"],
           "best_step": log["best_step"], "lr": recipe.lr, "weight_decay": recipe.weight_decay,
           "train_accuracy": round(tr.evaluate(net, x[sub.to(dev)], y[sub.to(dev)], bf16=recipe.bf16), 4),
           "val_accuracy": round(log["best_score"], 4),
           "test_accuracy": round(tr.evaluate(net, tx, ty, bf16=recipe.bf16), 4),
           "seconds": round(time.perf_counter() - t0, 1), "device": tr.device_name(dev)}
    if model == "vit":
        row.update(vit_probe_metrics(net, probe if probe is not None else probe_set()))
    return row


# --- a short live run (the page's "train now") -----------------------------------------------------------------------
LIVE = QUICK  # the live runs use the quick grid's batch and configuration


def live_run(model: str, n: int, steps: int, test=None, progress=None, should_stop=None) -> dict:
    """Train `model` on the first N images of seed 0 for a fixed number of steps (no validation, one
    configuration): a quick point to set beside the shipped curves. Train and test accuracy of the last step."""
    from core import train as tr
    from core.models import build_embedded

    arch = ARCHS[model]
    t0 = time.perf_counter()
    (x, y, _), _ = load_split(None, replace(LIVE, val_size=0), 0, n)
    rendered = time.perf_counter() - t0
    recipe = replace(_recipe(arch, LIVE, n, LIVE.lrs[0], LIVE.weight_decays[0], torch.device("cpu")), steps=steps)
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


# --- reading the results ---------------------------------------------------------------------------------------------
# The readings are Messages (core.messages): which sentence and which numbers are decided here, the wording is in
# locales/<lang>/data.toml. A list inside a sentence is a chain of Messages (`listing`), joined the way each
# language joins it.
def series_name(model: str, augment_px) -> str:
    """The chart series of a run: the model name, with " + shift aug" for augmented runs (an identifier: the
    results' summaries and the chart colours are keyed by it; `series_label` is what a person reads)."""
    return model + (" + shift aug" if int(augment_px) else "")


def series_label(series: str) -> Message | str:
    """A series as a person reads it: the model name, or "<model> + shift aug" in the reader's language."""
    model, plus, _ = series.partition(" + ")
    return say("data.series.augmented", model=model) if plus else series


def summary(rows, column: str = "test_accuracy") -> dict[str, dict[int, tuple[float, float, int]]]:
    """{series: {N: (mean, sample std over seeds, runs)}} of `column` from result rows (dicts or a DataFrame)."""
    records = rows.to_dict("records") if hasattr(rows, "to_dict") else list(rows)
    groups: dict[str, dict[int, list[float]]] = {}
    for r in records:
        groups.setdefault(series_name(r["model"], r["augment_px"]), {}).setdefault(
            int(r["train_size"]), []).append(float(r[column]))
    return {s: {n: (float(np.mean(a)), float(np.std(a, ddof=1)) if len(a) > 1 else 0.0, len(a))
                for n, a in sorted(by_n.items())} for s, by_n in groups.items()}


def crossings(sizes, first, second) -> list[tuple[int, int]]:
    """The pairs of neighbouring measured sizes between which `first` - `second` changes sign.

    Exact ties are skipped (a tie with the same sign on both sides is no crossing): the crossover lies
    somewhere in each returned bracket, which is as precise as the measurement allows."""
    diff = [(n, a - b) for n, a, b in zip(sizes, first, second) if a != b]
    return [(int(n0), int(n1)) for (n0, d0), (n1, d1) in pairwise(diff) if (d0 > 0) != (d1 > 0)]


def series_crossings(summ: dict, a: str = "cnn", b: str = "vit") -> list[tuple[int, int]]:
    sa, sb = summ.get(a, {}), summ.get(b, {})
    sizes = sorted(set(sa) & set(sb))
    return crossings(sizes, [sa[n][0] for n in sizes], [sb[n][0] for n in sizes])


def size_to_reach(curve: dict[int, tuple], target: float) -> tuple[int | None, int | None]:
    """(last measured N below `target`, first measured N at or above it) of a mean-accuracy curve:
    (None, N0) if even the smallest size reaches it, (N_max, None) if no size does."""
    below = None
    for n in sorted(curve):
        if curve[n][0] >= target:
            return below, n
        below = n
    return below, None


def fmt_n(n: int) -> str:
    return f"{n // 1000:,}k" if n >= 1000 and n % 1000 == 0 else f"{n:,}"


def _sizes(sizes) -> Message | str:
    return listing((fmt_n(n) for n in sizes), "enumeration")


def reach_phrase(curve: dict, target: float) -> Message:
    lo, hi = size_to_reach(curve, target)
    if hi is None:
        return say("data.reach.never", n=fmt_n(lo)) if lo else say("data.reach.no_data")
    if lo is None:
        return say("data.reach.at_once", n=fmt_n(hi))
    return say("data.reach.between", lo=fmt_n(lo), hi=fmt_n(hi))


def _cnn_vit(rows):
    """(test summary, training summary, cnn test curve, vit test curve, the sizes both were measured at)."""
    test, train = summary(rows), summary(rows, "train_accuracy")
    cnn, vit = test.get("cnn", {}), test.get("vit", {})
    return test, train, cnn, vit, sorted(set(cnn) & set(vit))


def reading(rows) -> Message:
    """Plain sentences on the shipped curves (markdown), every number taken from `rows`."""
    test, train, cnn, vit, sizes = _cnn_vit(rows)
    if not sizes:
        return say("data.reading.no_pairs")
    lo, hi = sizes[0], sizes[-1]
    gap = {n: 100 * (cnn[n][0] - vit[n][0]) for n in sizes}
    cross = series_crossings(test)
    if cross:
        lead = say("data.reading.cross", brackets=listing(
            (say("data.reading.bracket", lo=fmt_n(a), hi=fmt_n(b)) for a, b in cross), "enumeration"))
    elif all(g > 0 for g in gap.values()):
        lead = say("data.reading.cnn_ahead", lo=fmt_n(lo), hi=fmt_n(hi))
    elif all(g < 0 for g in gap.values()):
        lead = say("data.reading.vit_ahead", lo=fmt_n(lo), hi=fmt_n(hi))
    else:
        lead = say("data.reading.tie")
    sentences = [lead, say("data.reading.gap", gap_lo=gap[lo], gap_hi=gap[hi], lo=fmt_n(lo), hi=fmt_n(hi),
                           cnn_lo=cnn[lo][0], cnn_hi=cnn[hi][0], vit_lo=vit[lo][0], vit_hi=vit[hi][0])]
    sentences.append(say("data.reading.reach", target=90, items=listing(
        (say("data.reading.reach_item", series=series_label(s), phrase=reach_phrase(test[s], 0.9)) for s in test),
        "semicolon")))
    memorised = [s for s in train if train[s].get(lo, (0,))[0] >= 0.99]
    if memorised:
        sentences.append(say("data.reading.memorised_one" if len(memorised) == 1 else "data.reading.memorised_many",
                             n=fmt_n(lo), series=listing(map(series_label, memorised), "and"),
                             scores=listing((f"{test[s][lo][0]:.0%}" for s in memorised), "enumeration")))
    return listing(sentences, "sentences")


def augmentation_effect(rows) -> Message | None:
    """How much translation augmentation changes each architecture, from the rows (None without augmented runs)."""
    test = summary(rows)
    parts = []
    for m in ARCHS:
        plain, aug = test.get(m, {}), test.get(series_name(m, AUGMENT_PX), {})
        both = [n for n in sorted(aug) if n in plain]
        if both:
            parts.append(say("data.augmentation.model", model=m, changes=listing(
                (say("data.augmentation.change", change=100 * (aug[n][0] - plain[n][0]), n=fmt_n(n)) for n in both),
                "comma")))
    return say("data.augmentation.effect", parts=listing(parts, "semicolon")) if parts else None


PAPERS = say("data.papers.found")  # what the ViT and DeiT papers found (markdown)


def against_the_papers(rows) -> Message | None:
    """What the shipped runs say next to the papers' finding (markdown), decided by the data."""
    _, train, cnn, vit, sizes = _cnn_vit(rows)
    if not sizes:
        return None
    vit_ahead = [n for n in sizes if vit[n][0] > cnn[n][0]]
    cnn_ahead = [n for n in sizes if cnn[n][0] > vit[n][0]]
    top = sizes[-1]
    if not vit_ahead:
        finding = say("data.papers.cnn_ahead", top=fmt_n(top))
    elif cnn_ahead and max(vit_ahead) < min(cnn_ahead):
        fitted = [n for n in vit_ahead if train.get("cnn", {}).get(n, (0,))[0] >= 0.99]
        why = say("data.papers.cnn_memorises", sizes=_sizes(fitted)) if fitted else ""
        finding = say("data.papers.vit_ahead_small", small=_sizes(vit_ahead), vit_range=_pct_range(vit, vit_ahead),
                      cnn_range=_pct_range(cnn, vit_ahead), why=why, from_n=fmt_n(min(cnn_ahead)),
                      cnn_top=cnn[top][0], vit_top=vit[top][0], top=fmt_n(top))
    else:
        finding = say("data.papers.vit_ahead", sizes=_sizes(vit_ahead))
    return say("data.papers.shows", finding=finding)


def _pct_range(curve: dict, sizes: list[int]) -> str:
    vals = [curve[n][0] for n in sizes]
    return f"{min(vals):.0%}" if len(vals) == 1 else f"{min(vals):.0%}–{max(vals):.0%}"


def grid_of(command: str) -> Grid:
    """The grid a results command ran (`--quick` or the full one)."""
    return QUICK if "--quick" in command.split() else FULL


def method(rows) -> Message:
    """How the shipped runs were made, in one paragraph (markdown), from the rows and the grid they name."""
    df = rows
    grid = grid_of(df["command"].iloc[0])
    sizes = sorted(df.train_size.unique())
    seeds, configs = df.seed.nunique(), df[["lr", "weight_decay"]].drop_duplicates()
    steps = df.groupby("train_size").steps.max()
    b = grid.budget
    return say("data.method.text", runs=len(df), sizes=_sizes(sizes), augment=AUGMENT_PX,
               seeds=say("data.method.seeds" if seeds > 1 else "data.method.seed", n=int(seeds)),
               epochs=b.epochs, batch=b.batch, min_steps=b.min_steps, max_steps=b.max_steps,
               steps_lo=int(steps.iloc[0]), lo=fmt_n(sizes[0]), steps_hi=int(steps.iloc[-1]), hi=fmt_n(sizes[-1]),
               epochs_lo=steps.iloc[0] * b.batch / sizes[0], epochs_hi=steps.iloc[-1] * b.batch / sizes[-1],
               checks=b.checks, val=grid.val_size, test=grid.test_size,
               best=say("data.method.best_both" if len(configs) > 1 else "data.method.best_checkpoint"),
               configs=listing((say("data.method.config", lr=lr, wd=wd) for lr, wd in configs.itertuples(index=False)),
                               "comma"),
               device=device_phrase(df.device.iloc[0]), command=df.command.iloc[0],
               minutes=df.seconds.sum() / 60)


def device_phrase(device: str) -> Message:
    """'cuda:NVIDIA H200' -> 'an NVIDIA H200 GPU'; 'cpu:1 thread(s)' -> 'a CPU, 1 thread per run'."""
    kind, _, what = device.partition(":")
    if kind == "cuda":
        return say("data.device.gpu_named", name=what) if what else say("data.device.gpu")
    threads = what.split()[0] if what else "?"
    return say("data.device.cpu_one" if threads == "1" else "data.device.cpu", threads=threads)


FIT = 0.95  # training accuracy below this at the reported checkpoint: the run did not fit its training set
LATE = 0.75  # a best checkpoint after this share of the budget: validation was still improving near the end


def convergence_note(rows) -> Message:
    """Which runs are short of optimisation rather than of data: still improving on validation late in their
    budget without having fitted their own training images. Their test accuracy is a lower bound. (A run whose
    validation peaked early stopped improving for lack of data: more steps would only memorise more.)"""
    df = rows
    short = df[(df.train_accuracy < FIT) & (df.best_step > LATE * df.steps)]
    if short.empty:
        return say("data.convergence.none", fit=FIT, late=LATE)
    where = sorted({(series_name(m, a), int(n), t) for m, a, n, t in
                    zip(short.model, short.augment_px, short.train_size, short.train_accuracy)})
    return say("data.convergence.some", short=len(short), runs=len(df), where=listing(
        (say("data.convergence.run", series=series_label(s), n=fmt_n(n), train=t) for s, n, t in where), "comma"))


def vit_learning_reading(rows, uniform_px: float) -> Message | None:
    """What the shipped ViT runs' attention distance and position-embedding locality do as N grows."""
    vit = rows[(rows.model == "vit") & (rows.augment_px == 0)]
    cols = mad_columns(vit)
    if vit.empty or not cols:
        return None
    by_n = vit.groupby("train_size")[cols + ["pos_embed_locality"]].mean()
    lo, hi = by_n.index.min(), by_n.index.max()
    first, last = cols[0], cols[-1]
    spread = by_n.loc[hi, cols]
    locality = by_n.loc[hi, "pos_embed_locality"]
    near_uniform = (spread >= 0.9 * uniform_px).all()
    if near_uniform and locality < 0.3:
        verdict = say("data.vit_learning.none", hi=fmt_n(hi), within=10)
    else:
        emerged = []
        if not near_uniform:
            emerged.append(say("data.vit_learning.attention_local", px=spread.min(),
                               closer=1 - spread.min() / uniform_px))
        if locality >= 0.3:
            emerged.append(say("data.vit_learning.embedding_local", locality=locality))
        verdict = say("data.vit_learning.some", hi=fmt_n(hi), what=listing(emerged, "semicolon"))
    return say("data.vit_learning.text", first_lo=by_n.loc[lo, first], lo=fmt_n(lo), first_hi=by_n.loc[hi, first],
               hi=fmt_n(hi), last_lo=by_n.loc[lo, last], last_hi=by_n.loc[hi, last], span_min=spread.min(),
               span_max=spread.max(), uniform=uniform_px, loc_lo=by_n.loc[lo, "pos_embed_locality"],
               loc_hi=by_n.loc[hi, "pos_embed_locality"], verdict=verdict)


def mad_columns(rows) -> list[str]:
    cols = rows.columns if hasattr(rows, "columns") else rows[0].keys()
    return sorted((c for c in cols if c.startswith("mad_layer_")), key=lambda c: int(c.rsplit("_", 1)[1]))


def markdown_table(rows) -> str:
    """Mean test accuracy (training accuracy in brackets) by series and N, as a markdown table (README)."""
    test, train = summary(rows), summary(rows, "train_accuracy")
    sizes = sorted({n for s in test.values() for n in s})
    lines = ["| series | " + " | ".join(f"N = {fmt_n(n)}" for n in sizes) + " |", "|---" * (len(sizes) + 1) + "|"]
    for s in sorted(test, key=lambda k: (k.split()[0] != "cnn", k)):
        cells = [f"{test[s][n][0]:.1%} ({train[s][n][0]:.0%})" if n in test[s] else "" for n in sizes]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def load(path: Path | None = None):
    """The shipped rows (or those at `path`) as a pandas DataFrame, or None if the file is absent."""
    import pandas as pd

    path = HUNGER_FILE if path is None else path
    return pd.read_csv(path) if path.exists() else None


# --- the command -------------------------------------------------------------------------------------------------------
_WORKER: dict = {}


def _init_worker(device: str, threads: int) -> None:
    torch.set_num_threads(threads)
    _WORKER["device"] = device


def _worker_run(cell: tuple, grid: Grid, cache: Path, configs) -> dict:
    if "test" not in _WORKER:
        _WORKER["test"], _WORKER["probe"] = test_set(grid.test_size), probe_set()
    model, n, seed, augment = cell
    return run_cell(model, n, seed, augment, grid, _WORKER["device"], cache, _WORKER["test"], _WORKER["probe"],
                    configs)


def configs_for(cell: tuple, grid: Grid, rows: list[dict]) -> list[tuple[float, float]] | None:
    """The configurations cell `cell` tries: all of them for seed 0 (or when the grid does not share them), else
    the one seed 0 chose for the same model, N and augmentation; None while seed 0 has not finished."""
    model, n, seed, augment = cell
    if seed == 0 or not grid.tune_on_first_seed or len(grid.configs) == 1:
        return grid.configs
    for r in rows:
        if (r["model"], int(r["train_size"]), int(r["seed"]), int(r["augment_px"])) == (model, n, 0, augment):
            return [(float(r["lr"]), float(r["weight_decay"]))]
    return None


def run_pool(queue: list, submit, on_result, jobs: int, device: str, threads: int, time_left) -> None:
    """Train cells on `jobs` spawned worker processes (`_init_worker`): `submit(pool, queue)` takes a cell that may
    start now out of `queue` and returns its future (None: none may start yet); `on_result(result)` gets each
    result as it finishes. No cell starts once `time_left()` is False; the running ones finish."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                             initargs=(device, threads)) as pool:
        running: set = set()
        while queue or running:
            while len(running) < jobs and time_left():
                fut = submit(pool, queue)
                if fut is None:
                    break
                running.add(fut)
            if not running:
                break
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                on_result(fut.result())


def _render_pools(pool, grid: Grid, cache: Path) -> None:
    top = max(grid.sizes)
    jobs = [pool.submit(render_chunk, cache, s, k) for s in range(grid.seeds) for k in range(chunks_needed(grid, top))]
    for j in jobs:
        j.result()


def main(argv=None) -> None:
    import argparse
    import csv
    import multiprocessing as mp
    import os
    from concurrent.futures import ProcessPoolExecutor

    ap = argparse.ArgumentParser(prog="python -m core.experiments hunger", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="the reduced grid for 2 CPU cores (~35 min)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cuda", "cpu"])
    ap.add_argument("--sizes", type=int, nargs="+", help="override the grid's training-set sizes")
    ap.add_argument("--seeds", type=int, help="override the grid's number of seeds")
    ap.add_argument("--models", nargs="+", default=list(ARCHS), choices=list(ARCHS))
    ap.add_argument("--max-steps", type=int, help="cap every run's steps (for trials)")
    ap.add_argument("--jobs", type=int, help="cells trained at once (default: 8 on a GPU, one per core on a CPU)")
    ap.add_argument("--time-limit", type=float, default=0, help="start no new cell after this many seconds")
    ap.add_argument("--cache", type=Path, default=Path(os.environ.get("IBL_CACHE", "~/.cache/ibl")).expanduser() / "pools")
    ap.add_argument("--out", type=Path, default=HUNGER_FILE)
    ap.add_argument("--fresh", action="store_true", help="discard the rows already in --out")
    ap.add_argument("--plan", action="store_true", help="print the cells and steps, train nothing")
    args = ap.parse_args(argv)

    grid = QUICK if args.quick else FULL
    if args.sizes:
        grid = replace(grid, sizes=tuple(args.sizes))
    if args.seeds:
        grid = replace(grid, seeds=args.seeds)
    if args.max_steps:
        grid = replace(grid, budget=replace(grid.budget, max_steps=args.max_steps,
                                            min_steps=min(grid.budget.min_steps, args.max_steps)))
    command = " ".join(["python -m core.experiments hunger", *(argv if argv is not None else [])]).strip()
    for flag in ("--fresh", "--time-limit", "--jobs", "--cache"):  # how a run is executed, not what it measures
        command = _drop_flag(command, flag)
    cells = grid.cells(tuple(args.models))
    if args.plan:
        for m, steps in grid.total_steps(tuple(args.models)).items():
            print(f"{m}: {steps:,} steps of {grid.budget.batch} images")
        print(f"{len(cells)} cells; {len(grid.configs)} configurations for seed 0"
              + (", the chosen one for the other seeds" if grid.tune_on_first_seed else " and the others"))
        return

    rows = [] if args.fresh or not args.out.exists() else load(args.out).to_dict("records")
    other = {r["command"] for r in rows} - {command}
    if other:
        raise SystemExit(f"{args.out} holds rows of another command ({sorted(other)[0]!r}); "
                         "pass --fresh to replace them or --out for another file")
    done = {(r["model"], int(r["train_size"]), int(r["seed"]), int(r["augment_px"])) for r in rows}
    todo = [c for c in cells if c not in done]
    print(f"{len(todo)} of {len(cells)} cells to train on {args.device}", flush=True)
    cuda = args.device == "cuda"
    jobs = args.jobs or (8 if cuda else max(1, os.cpu_count() or 1))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    args.cache.mkdir(parents=True, exist_ok=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fields = list(COLUMNS) + ([f"mad_layer_{i + 1}" for i in range(6)] + ["pos_embed_locality"]
                              if "vit" in args.models else [])

    def write(all_rows):
        ordered = sorted(all_rows, key=lambda r: (r["model"], int(r["augment_px"]), int(r["train_size"]), int(r["seed"])))
        tmp = args.out.with_suffix(".tmp")
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
            w.writeheader()
            w.writerows(ordered)
        tmp.replace(args.out)  # each finished cell is on disk at once, never half a file

    t0 = time.perf_counter()
    with ProcessPoolExecutor(os.cpu_count() or 1, mp_context=mp.get_context("spawn")) as renderers:
        _render_pools(renderers, grid, args.cache)  # every chunk once, on every core
    print(f"pools rendered in {time.perf_counter() - t0:.0f} s", flush=True)
    def submit(pool, queue):
        ready = next(((c, cfg) for c in queue if (cfg := configs_for(c, grid, rows)) is not None), None)
        if ready is None:
            return None  # the rest wait for their seed-0 cell
        queue.remove(ready[0])
        return pool.submit(_worker_run, ready[0], grid, args.cache, ready[1])

    def finished(result):
        row = dict(result, command=command)
        rows.append(row)
        write(rows)
        print(f"[{time.perf_counter() - t0:6.0f} s] {row['model']} N={row['train_size']} seed={row['seed']} "
              f"aug={row['augment_px']}: train {row['train_accuracy']:.1%}, val {row['val_accuracy']:.1%}, "
              f"test {row['test_accuracy']:.1%} (best step {row['best_step']}/{row['steps']}, "
              f"{row['seconds']:.0f} s)", flush=True)

    run_pool(list(todo), submit, finished, jobs, args.device, threads,
             lambda: not (args.time_limit and time.perf_counter() - t0 > args.time_limit))
    left = len([c for c in cells if c not in {(r["model"], int(r["train_size"]), int(r["seed"]),
                                                int(r["augment_px"])) for r in rows}])
    print(f"wrote {len(rows)} rows to {args.out} in {time.perf_counter() - t0:.0f} s; {left} cells left", flush=True)
    if rows:
        print(markdown_table(rows))


def _drop_flag(command: str, flag: str) -> str:
    """`command` without `flag` and its value(s) (up to the next --option)."""
    out, skip = [], False
    for word in command.split():
        if word.startswith("--"):
            skip = word == flag
        if not skip:
            out.append(word)
    return " ".join(out)
