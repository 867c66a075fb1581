"""Measurements behind the "Why ViTs need data" page.

`python -m core.experiments positions`: accuracy as a function of where the object is, for models trained on
the whole frame and on the centre only, on a fixed, seeded set of full-frame test images; writes
core/results/positions.npz (the page reads it, so it opens at once).
`python -m core.experiments hunger [--sizes ...]`: accuracy against training-set size (core/results/data_hunger.csv).
"""
from __future__ import annotations

from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import numpy as np
import torch

from core import shapes

POSITION_SEED = 20_251
POSITION_IMAGES = 6_000


def position_accuracy(predictions: np.ndarray, labels: np.ndarray, centres: np.ndarray, canvas: int = shapes.CANVAS,
                      cell: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy per `cell` x `cell` bin of the object's centre: (accuracy [n, n] with NaN where empty, counts [n, n]).

    Row i, column j covers centres with i*cell <= y < (i+1)*cell and j*cell <= x < (j+1)*cell.
    """
    if canvas % cell:
        raise ValueError(f"the cell size {cell} must divide the canvas {canvas}")
    n = canvas // cell
    centres = np.asarray(centres, dtype=np.float64)
    col = np.clip((centres[:, 0] // cell).astype(int), 0, n - 1)
    row = np.clip((centres[:, 1] // cell).astype(int), 0, n - 1)
    flat = row * n + col
    counts = np.bincount(flat, minlength=n * n)
    hits = np.bincount(flat, weights=(np.asarray(predictions) == np.asarray(labels)).astype(float), minlength=n * n)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)
    return acc.reshape(n, n), counts.reshape(n, n)


def distance_accuracy(predictions: np.ndarray, labels: np.ndarray, centres: np.ndarray,
                      canvas: int = shapes.CANVAS, width: int = 4) -> list[dict]:
    """Accuracy against the object's distance from the canvas centre (Chebyshev, px), in `width`-px bands."""
    d = np.abs(np.asarray(centres, dtype=np.float64) - canvas / 2).max(1)
    band = (d // width).astype(int)
    correct = np.asarray(predictions) == np.asarray(labels)
    return [{"distance_px": int(b * width + width / 2), "accuracy": float(correct[band == b].mean()),
             "images": int((band == b).sum())} for b in np.unique(band)]


@torch.inference_mode()
def predict_all(model, images: torch.Tensor, batch: int = 500) -> np.ndarray:
    """Top-1 class of every image for a core.models.LoadedModel."""
    return torch.cat([model.net(model.preprocess(images[i:i + batch])).argmax(-1)
                      for i in range(0, len(images), batch)]).numpy()


def position_test_set(n: int = POSITION_IMAGES, seed: int = POSITION_SEED):
    """Seeded full-frame test images with their labels and object centres (never used in training)."""
    return shapes.make_dataset(n, seed, "full")


POSITION_MODELS = ("cnn", "cnn-center", "vit", "vit-center")
RESULTS_DIR = Path(__file__).parent / "results"
POSITIONS_FILE = RESULTS_DIR / "positions.npz"


def position_predictions(load, names=POSITION_MODELS, n: int = POSITION_IMAGES) -> dict[str, np.ndarray]:
    """Top-1 predictions of each model on the position test set, with its labels and centres.

    `load(name)` returns a core.models.LoadedModel (the app passes its cached loader).
    """
    images, labels, centres = position_test_set(n)
    out = {f"pred_{name}": predict_all(load(name), images).astype(np.int8) for name in names}
    return dict(out, labels=labels.numpy().astype(np.int8), centres=centres.numpy().astype(np.float32))


def load_positions(path: Path = POSITIONS_FILE) -> dict[str, np.ndarray] | None:
    """The shipped position results (made by `python -m core.experiments positions`), or None if absent."""
    if not path.exists():
        return None
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


# --- Data hunger: accuracy against training-set size -------------------------------------------------------
SIZES = (250, 500, 1_000, 2_000, 4_000, 8_000, 16_000)
ARCHS = {"cnn": "resnet", "vit": "vit"}
HUNGER_TEST_SEED = 30_303
HUNGER_TRAIN_SEED = 40_000  # + seed index: each seed draws its own training set


def random_shift(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translation augmentation: roll each image by its own (dx, dy) in [-max_shift, max_shift] (circular, so
    nothing is cut off and no fake border appears)."""
    shifts = torch.randint(-max_shift, max_shift + 1, (len(images), 2), generator=generator)
    return torch.stack([torch.roll(img, (int(dy), int(dx)), (-2, -1)) for img, (dx, dy) in zip(images, shifts)])


# Every run gets the same compute: HUNGER_STEPS optimizer steps of HUNGER_BATCH images, whatever its N (so small
# sets are seen for many epochs, large ones for few). 51 runs must fit in an hour of 2 cores, so this is ~1/10 of
# the embedded ViT's budget (5000 x 64 images); small batches give the most updates for the images seen.
HUNGER_STEPS = 900
HUNGER_BATCH = 32
AUGMENT_PX = 8  # translation augmentation for the ViT: random circular shifts of up to this many px
AUGMENT_SIZES = (1_000, 4_000, 16_000)
HUNGER_FILE = RESULTS_DIR / "data_hunger.csv"
HUNGER_COLUMNS = ("model", "train_size", "seed", "augment_px", "steps", "batch", "accuracy", "seconds", "command")


def data_hunger_run(model: str, n: int, seed: int, steps: int = HUNGER_STEPS, augment: int = 0, test=None,
                    progress=None, should_stop=None) -> dict:
    """Train a fresh embedded-architecture `model` ("cnn" | "vit") on `n` images for `steps` steps; one result row.

    `augment` > 0 rolls each training batch by up to that many pixels. `progress(step, steps, loss)` and
    `should_stop()` are passed to core.train.train (a stopped run reports the steps it did).
    """
    from core import train as tr
    from core.models import build_embedded

    arch = ARCHS[model]
    torch.manual_seed(seed)
    net = build_embedded(arch, len(shapes.CLASSES))
    images, labels, _ = shapes.make_dataset(n, HUNGER_TRAIN_SEED + seed, "full", dtype=torch.uint8)
    recipe = replace(tr.RECIPES[arch], steps=steps, batch=min(HUNGER_BATCH, n))
    gen = torch.Generator().manual_seed(seed)
    transform = (lambda x: random_shift(x, augment, gen)) if augment else None
    log = tr.train(net, images, labels, recipe, seed=seed, progress=progress, should_stop=should_stop,
                   transform=transform)
    test_images, test_labels, _ = test if test is not None else hunger_test_set()
    return {"model": model, "train_size": n, "seed": seed, "augment_px": augment, "steps": log["steps"],
            "batch": recipe.batch, "accuracy": tr.evaluate(net, test_images, test_labels),
            "seconds": round(log["seconds"], 1)}


def hunger_test_set(n: int = 2_000):
    return shapes.make_dataset(n, HUNGER_TEST_SEED, "full")


def hunger_plan(sizes=SIZES, models=("cnn", "vit"), seeds: int = 3, augment_sizes=AUGMENT_SIZES,
                augment: int = AUGMENT_PX) -> list[tuple[str, int, int, int]]:
    """The runs (model, N, seed, augment px): every model at every N and seed, plus the ViT with translation
    augmentation at `augment_sizes`. The ViT runs come first: they are the slow ones (better load balance)."""
    runs = [(m, n, s, 0) for m in models for n in sizes for s in range(seeds)]
    if "vit" in models and augment:
        runs += [("vit", n, s, augment) for n in augment_sizes for s in range(seeds)]
    return sorted(runs, key=lambda r: r[0] != "vit")


def crossovers(sizes, first, second) -> list[float]:
    """Training-set sizes where curve `first` - `second` changes sign, interpolated on a log-N axis.

    A point where the two are exactly equal counts as a crossover only if the sign differs on its two sides.
    """
    sizes, diff = np.log(np.asarray(sizes, dtype=float)), np.asarray(first, float) - np.asarray(second, float)
    nonzero = [(x, d) for x, d in zip(sizes, diff) if d != 0]
    out = []
    for (x0, d0), (x1, d1) in pairwise(nonzero):
        if np.sign(d0) != np.sign(d1):
            out.append(float(np.exp(x0 + (x1 - x0) * d0 / (d0 - d1))))
    return out


def series_name(model: str, augment_px) -> str:
    """The chart series of a run: the model name, with " + shift aug" for augmented runs."""
    return model + (" + shift aug" if int(augment_px) else "")


def cnn_vit_crossings(summary: dict) -> list[float]:
    """`crossovers` of the CNN and ViT mean accuracies of `hunger_summary` output, at the sizes both have."""
    cnn, vit = summary.get("cnn", {}), summary.get("vit", {})
    sizes = sorted(set(cnn) & set(vit))
    return crossovers(sizes, [cnn[n][0] for n in sizes], [vit[n][0] for n in sizes])


def hunger_summary(rows) -> dict[str, dict[int, tuple[float, float, int]]]:
    """{series: {N: (mean accuracy, sample std over seeds, runs)}} from result rows (dicts or a DataFrame).

    Series are named by `series_name`."""
    records = rows.to_dict("records") if hasattr(rows, "to_dict") else list(rows)
    groups: dict[str, dict[int, list[float]]] = {}
    for r in records:
        series = series_name(r["model"], r["augment_px"])
        groups.setdefault(series, {}).setdefault(int(r["train_size"]), []).append(float(r["accuracy"]))
    return {s: {n: (float(np.mean(a)), float(np.std(a, ddof=1)) if len(a) > 1 else 0.0, len(a))
                for n, a in sorted(by_n.items())} for s, by_n in groups.items()}


def hunger_reading(summary: dict) -> str:
    """One plain sentence on the CNN-vs-ViT curves of `hunger_summary` output (markdown)."""
    cnn, vit = summary.get("cnn", {}), summary.get("vit", {})
    sizes = sorted(set(cnn) & set(vit))
    if not sizes:
        return "Both models are needed at the same training-set sizes for a comparison."
    gap = {n: 100 * (cnn[n][0] - vit[n][0]) for n in sizes}
    lo, hi = sizes[0], sizes[-1]
    cross = cnn_vit_crossings(summary)
    if len(cross) == 1:
        first, then = ("ViT", "CNN") if gap[lo] < 0 else ("CNN", "ViT")
        lead = f"The **{first} is ahead below N ≈ {cross[0]:,.0f} and the {then} above it**."
    elif cross:
        lead = "The curves cross at " + ", ".join(f"N ≈ {c:,.0f}" for c in cross) + "."
    elif all(g > 0 for g in gap.values()):
        lead = f"The **CNN beats the ViT at every N** from {lo:,} to {hi:,}."
    elif all(g < 0 for g in gap.values()):
        lead = f"The **ViT beats the CNN at every N** from {lo:,} to {hi:,}."
    else:
        lead = "The two are level somewhere between the sizes measured."
    text = (f"{lead} The gap (CNN − ViT) is {gap[lo]:+.1f} points at N = {lo:,} and {gap[hi]:+.1f} at N = {hi:,}; "
            f"from the smallest to the largest set the CNN goes from {cnn[lo][0]:.1%} to {cnn[hi][0]:.1%} and the "
            f"ViT from {vit[lo][0]:.1%} to {vit[hi][0]:.1%}.")
    aug = summary.get(series_name("vit", AUGMENT_PX), {})
    both = [n for n in sorted(aug) if n in vit]
    if both:
        text += " Shift augmentation changes the ViT by " + ", ".join(
            f"{100 * (aug[n][0] - vit[n][0]):+.1f} points at N = {n:,}" for n in both) + "."
    return text


def load_hunger(path: Path = HUNGER_FILE):
    """The shipped data-hunger rows as a pandas DataFrame, or None if the file is absent."""
    import pandas as pd

    return pd.read_csv(path) if path.exists() else None


def main(argv=None):
    import sys

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["positions"]:
        from core.models import load_model

        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(POSITIONS_FILE, **position_predictions(load_model))
        print(f"wrote {POSITIONS_FILE}")
        return
    if argv[:1] == ["hunger"]:
        argv = argv[1:]
    hunger_main(argv)


_TEST: list = []


def _hunger_worker_run(run: tuple, steps: int) -> dict:
    torch.set_num_threads(1)  # one run per core: these small models keep one core busier than two threads do
    if not _TEST:
        _TEST.append(hunger_test_set())
    model, n, seed, augment = run
    return data_hunger_run(model, n, seed, steps, augment, _TEST[0])


def hunger_main(argv):
    import argparse
    import csv
    import multiprocessing as mp
    import time
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from tqdm import tqdm

    ap = argparse.ArgumentParser(description="Accuracy against training-set size for the embedded CNN and ViT.")
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    ap.add_argument("--models", nargs="+", default=["cnn", "vit"], choices=list(ARCHS))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=HUNGER_STEPS, help="optimizer steps per run, the same for every N")
    ap.add_argument("--augment", type=int, default=AUGMENT_PX, help="ViT augmentation shift in px; 0 = no such runs")
    ap.add_argument("--augment-sizes", type=int, nargs="*", default=list(AUGMENT_SIZES))
    ap.add_argument("--jobs", type=int, default=2, help="runs at once, one thread each")
    ap.add_argument("--out", type=Path, default=HUNGER_FILE)
    args = ap.parse_args(argv)
    runs = hunger_plan(args.sizes, args.models, args.seeds, args.augment_sizes, args.augment)
    command = " ".join(["python -m core.experiments hunger", *argv]).strip()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows, t0 = [], time.perf_counter()
    with ProcessPoolExecutor(max(1, args.jobs), mp_context=mp.get_context("spawn")) as pool, \
            tqdm(total=len(runs), unit="run") as bar, open(args.out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=HUNGER_COLUMNS)
        writer.writeheader()
        futures = [pool.submit(_hunger_worker_run, run, args.steps) for run in runs]
        for future in as_completed(futures):
            row = dict(future.result(), command=command)
            rows.append(row)
            writer.writerow(row)  # as each run ends, so an interrupted hour keeps what it measured
            f.flush()
            bar.set_postfix_str(f"{row['model']} N={row['train_size']} aug={row['augment_px']}: "
                                f"{row['accuracy']:.1%}")
            bar.update(1)
    rows.sort(key=lambda r: (r["model"], r["augment_px"], r["train_size"], r["seed"]))
    with open(args.out, "w", newline="") as f:  # the finished file in a stable order
        writer = csv.DictWriter(f, fieldnames=HUNGER_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {args.out} in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
