"""Where the object is, and what a shift does: two measurements the data and sensitivity pages read.

`python -m core.experiments positions`: accuracy as a function of where the object is, for models trained on
the whole frame and on the centre only, on a fixed, seeded set of full-frame test images; writes
core/results/positions.npz (the page reads it, so it opens at once).
`python -m core.experiments stability`: how much a whole-image shift changes cnn, cnn-aa and vit
(core/results/shift_stability.csv).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from core import shapes
from core.experiments import RESULTS
from core.models import augmentation_pairs, load_model
from core.messages import Message, listing, say

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


# a cell of the position heat maps with fewer test objects than this shows no accuracy (its binomial standard error
# would be over 11 points); the test set's edge cells hold 1-11 objects at 8 px, its inner cells 100 or more
MIN_OBJECTS = 20


def position_grid(predictions: dict[str, np.ndarray], labels: np.ndarray, centres: np.ndarray, cell: int = 8,
                  min_objects: int = MIN_OBJECTS) -> list[dict]:
    """The heat maps' cells, one row per (model, non-empty cell): the cell's centre in px (x, y), its accuracy, its
    number of test objects (`images`) and whether that number is at least `min_objects` (`enough`): a cell without
    enough objects is drawn without an accuracy."""
    rows = []
    for name, pred in predictions.items():
        acc, counts = position_accuracy(pred, labels, centres, cell=cell)
        for (i, j), n in np.ndenumerate(counts):
            if n:
                rows.append({"model": name, "x": j * cell + cell // 2, "y": i * cell + cell // 2,
                             "accuracy": float(acc[i, j]), "images": int(n), "enough": bool(n >= min_objects)})
    return rows


def distance_accuracy(predictions: np.ndarray, labels: np.ndarray, centres: np.ndarray,
                      canvas: int = shapes.CANVAS, width: int = 4) -> list[dict]:
    """Accuracy against the object's distance from the canvas centre (Chebyshev, px), in `width`-px bands."""
    d = np.abs(np.asarray(centres, dtype=np.float64) - canvas / 2).max(1)
    band = (d // width).astype(int)
    correct = np.asarray(predictions) == np.asarray(labels)
    return [{"distance_px": int(b * width + width / 2), "accuracy": float(correct[band == b].mean()),
             "images": int((band == b).sum())} for b in np.unique(band)]


# px from the frame's centre: objects within the first of these (just past the centre-trained models' training region),
# and those the second or more out
NEAR_FAR = (shapes.CENTER_RADIUS + 2, shapes.CENTER_RADIUS + 6)


def centre_accuracy(preds: dict, labels, centres) -> dict[str, tuple[float, float]]:
    """{model: (accuracy on objects near the centre, accuracy on those far from it)} for the POSITION_MODELS."""
    near, far = NEAR_FAR
    return {n: (band_accuracy(preds[n], labels, centres, 0, near), band_accuracy(preds[n], labels, centres, far, 99))
            for n in POSITION_MODELS}


def centre_reading(acc: dict[str, tuple[float, float]]) -> Message:
    """Which centre-trained model loses more away from the centre, and the likely reason, from centre_accuracy's
    (near, far) accuracies."""
    (cn, cf), (vn, vf) = acc["cnn-center"], acc["vit-center"]
    values = {"cnn_near": cn, "cnn_far": cf, "vit_near": vn, "vit_far": vf}
    if cn - cf > vn - vf:
        return Message("data.centre.cnn_loses_more",
                       dict(values, size_min=shapes.SIZE_RANGE[0], size_max=shapes.SIZE_RANGE[1]))
    return Message("data.centre.vit_loses_more", values)


def bands_reading(acc: dict[str, tuple[float, float]], card: dict) -> Message:
    """Each model's accuracy near the middle and far out (centre_accuracy's), with what it was trained on (the model
    card's `models` entries): the sentence under the distance chart."""
    near, far = NEAR_FAR
    budget = listing((Message("data.position.budget", {"model": n, "steps": card[n]["recipe"]["steps"],
                                                       "batch": card[n]["recipe"]["batch"]})
                      for n in acc if n in card), "semicolon")
    images = " / ".join(sorted({f"{card[n]['training_set']['images']:,}" for n in acc if n in card}))
    bands = listing((Message("data.position.band", {"model": n, "near": a, "far": b}) for n, (a, b) in acc.items()),
                    "semicolon")
    return Message("data.position.bands", {"near": near, "far": far, "accuracies": bands, "images": images,
                                           "budget": budget})


def band_accuracy(predictions: np.ndarray, labels: np.ndarray, centres: np.ndarray, lo: float, hi: float,
                  canvas: int = shapes.CANVAS) -> float:
    """Accuracy on the objects whose centre is lo <= distance < hi px from the canvas centre (Chebyshev)."""
    d = np.abs(np.asarray(centres, dtype=np.float64) - canvas / 2).max(1)
    inside = (d >= lo) & (d < hi)
    return float((np.asarray(predictions)[inside] == np.asarray(labels)[inside]).mean())


@torch.inference_mode()
def predict_all(model, images: torch.Tensor, batch: int = 500) -> np.ndarray:
    """Top-1 class of every image for a core.models.LoadedModel."""
    return torch.cat([model.net(model.preprocess(images[i:i + batch])).argmax(-1)
                      for i in range(0, len(images), batch)]).numpy()


def position_test_set(n: int = POSITION_IMAGES, seed: int = POSITION_SEED):
    """Seeded full-frame test images with their labels and object centres (never used in training)."""
    return shapes.make_dataset(n, seed, "full")


POSITION_MODELS = ("cnn", "cnn-center", "vit", "vit-center")
RESULTS_DIR = RESULTS
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


# --- Shift stability: how much a whole-image shift changes what the classifier sees (Zhang 2019's set-up) ----------
# the anti-aliased CNN against the plain one; the small-data ViTs with shift augmentation against without
STABILITY_MODELS = ("cnn", "cnn-aa", "vit", *(name for pair in augmentation_pairs() for name in pair))
STABILITY_SHIFTS = (1, 2, 3, 4, 8)
STABILITY_IMAGES = 1_000
STABILITY_FILE = RESULTS_DIR / "shift_stability.csv"


@torch.inference_mode()
def shift_stability(model, images: torch.Tensor, shifts=STABILITY_SHIFTS, batch: int = 250) -> list[dict]:
    """For each circular horizontal shift s of the whole image: the mean relative change of the pooled features
    the classifier reads, ||g(T_s x) - g(x)|| / ||g(x)||, and the % of images whose top-1 class stays the same."""
    net = model.net

    def pooled_and_top1(x):
        feats = net.forward_head(net.forward_features(model.preprocess(x)), pre_logits=True)
        return feats, net.get_classifier()(feats).argmax(-1)

    rows = []
    base = [pooled_and_top1(images[i:i + batch]) for i in range(0, len(images), batch)]
    for s in shifts:
        change, same = [], []
        for (f0, t0), i in zip(base, range(0, len(images), batch)):
            f1, t1 = pooled_and_top1(torch.roll(images[i:i + batch], s, dims=-1))
            change.append((f1 - f0).norm(dim=-1) / f0.norm(dim=-1).clamp_min(1e-12))
            same.append(t1 == t0)
        rows.append({"model": model.name, "shift_px": s, "feature_change": round(float(torch.cat(change).mean()), 4),
                     "top1_kept_pct": round(100 * float(torch.cat(same).float().mean()), 2),
                     "images": len(images)})
    return rows


def load_stability(path: Path = STABILITY_FILE):
    """The shipped shift-stability rows as a DataFrame, or None if absent."""
    return pd.read_csv(path) if path.exists() else None


def stability_reading(df, a: str = "cnn-aa", b: str = "cnn", shift: int = 1) -> Message | None:
    """What the shipped rows say about two models' shift stability at `shift` px (None without both models)."""
    rows = df[df.shift_px == shift].set_index("model")
    if a not in rows.index or b not in rows.index:
        return None
    ra, rb = rows.loc[a], rows.loc[b]
    less_change, more_kept = ra.feature_change < rb.feature_change, ra.top1_kept_pct > rb.top1_kept_pct
    verdict = (say("stability.more_stable", a=a, b=b) if less_change and more_kept else
               say("stability.less_stable", a=a, b=b) if not less_change and not more_kept else
               say("stability.not_clearly", a=a, b=b))
    return say("stability.reading", shift=shift, a=a, b=b, change_a=ra.feature_change, change_b=rb.feature_change,
               kept_a=ra.top1_kept_pct, kept_b=rb.top1_kept_pct, verdict=verdict, images=int(ra.images))


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["positions"]:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(POSITIONS_FILE, **position_predictions(load_model))
        print(f"wrote {POSITIONS_FILE}")
        return
    if argv[:1] == ["stability"]:
        images = shapes.make_dataset(STABILITY_IMAGES, POSITION_SEED + 1, "full")[0]
        rows = [r for name in STABILITY_MODELS for r in shift_stability(load_model(name), images)]
        pd.DataFrame(rows).assign(command="python -m core.experiments stability").to_csv(STABILITY_FILE, index=False)
        print(pd.DataFrame(rows).to_string(index=False))
        return
    raise SystemExit("usage: python -m core.experiments positions | stability")


