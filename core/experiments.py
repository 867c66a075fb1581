"""Measurements behind the "Why ViTs need data" page.

`python -m core.experiments positions`: accuracy as a function of where the object is, for models trained on
the whole frame and on the centre only, on a fixed, seeded set of full-frame test images; writes
core/results/positions.npz (the page reads it, so it opens at once).
`python -m core.experiments hunger [--sizes ...]`: accuracy against training-set size (core/results/data_hunger.csv).
"""
from __future__ import annotations

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


def data_hunger_run(model: str, n: int, seed: int, steps: int, augment: int = 0, test=None,
                    progress=None, should_stop=None) -> dict:
    """Train a fresh embedded-architecture `model` ("cnn" | "vit") on `n` images for `steps` steps; one result row.

    Every run gets the same number of optimizer steps (same compute), so small training sets are seen for more
    epochs. `augment` > 0 rolls each training batch by up to that many pixels.
    """
    from core import train as tr
    from core.models import build_embedded

    arch = ARCHS[model]
    torch.manual_seed(seed)
    net = build_embedded(arch, len(shapes.CLASSES))
    images, labels, _ = shapes.make_dataset(n, HUNGER_TRAIN_SEED + seed, "full", dtype=torch.uint8)
    base = tr.RECIPES[arch]
    recipe = tr.Recipe(steps, base.lr, base.weight_decay, min(base.batch, n), base.warmup)
    gen = torch.Generator().manual_seed(seed)
    transform = (lambda x: random_shift(x, augment, gen)) if augment else None
    log = tr.train(net, images, labels, recipe, seed=seed, progress=progress, should_stop=should_stop,
                   transform=transform)
    test_images, test_labels, _ = test if test is not None else hunger_test_set()
    return {"model": model, "train_size": n, "seed": seed, "steps": log["steps"], "augment_px": augment,
            "accuracy": tr.evaluate(net, test_images, test_labels), "seconds": round(log["seconds"], 1)}


def hunger_test_set(n: int = 2_000):
    return shapes.make_dataset(n, HUNGER_TEST_SEED, "full")


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


def hunger_main(argv):
    import argparse
    import csv

    from tqdm import tqdm

    ap = argparse.ArgumentParser(description="Accuracy against training-set size for the embedded CNN and ViT.")
    ap.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    ap.add_argument("--models", nargs="+", default=["cnn", "vit"], choices=list(ARCHS))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=800, help="optimizer steps per run, the same for every size")
    ap.add_argument("--augment", type=int, nargs="+", default=[0], help="max shift in px; 0 = none")
    ap.add_argument("--out", type=Path, default=RESULTS_DIR / "data_hunger.csv")
    args = ap.parse_args(argv)
    runs = [(m, n, s, a) for a in args.augment for m in args.models for n in args.sizes for s in range(args.seeds)
            if a == 0 or m == "vit"]
    test = hunger_test_set()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as f, tqdm(total=len(runs) * args.steps, unit="step") as bar:
        writer = None
        for m, n, s, a in runs:
            bar.set_description(f"{m} N={n} seed={s} aug={a}")
            row = data_hunger_run(m, n, s, args.steps, a, test, progress=lambda *_: bar.update(1))
            row["command"] = "python -m core.experiments hunger " + " ".join(argv)
            if writer is None:
                writer = csv.DictWriter(f, fieldnames=list(row))
                writer.writeheader()
            writer.writerow(row)
            f.flush()


if __name__ == "__main__":
    main()
