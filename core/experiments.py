"""Measurements behind the "Why ViTs need data" page.

Position generalisation: accuracy as a function of where the object is, for models trained on the whole
frame and on the centre only, measured on a fixed, seeded set of full-frame test images.
"""
from __future__ import annotations

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
