"""Measurements behind the "Why ViTs need data" page.

`python -m core.experiments positions`: accuracy as a function of where the object is, for models trained on
the whole frame and on the centre only, on a fixed, seeded set of full-frame test images; writes
core/results/positions.npz (the page reads it, so it opens at once).
`python -m core.experiments hunger [--quick] [--device cuda|cpu]`: accuracy against training-set size, trained to
convergence (core/hunger.py; core/results/data_hunger.csv).
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
        from core import hunger

        hunger.main(argv[1:])
        return
    raise SystemExit("usage: python -m core.experiments positions | hunger [--quick] [--device cuda|cpu] ...")


if __name__ == "__main__":
    main()
