"""Which image frequencies each model is sensitive to: the Fourier heat map of Yin et al. (2019).

For each frequency (u, v), a single Fourier basis image (a plane wave, the same on every colour channel) of fixed L2
norm EPS is added to held-out test images (clipped to [0, 1]); the heat map is the error rate on the perturbed
images. Park & Kim (2022, "How do vision transformers work?") find multi-head self-attention acts as a low-pass
filter and convolution as a high-pass one.

`python -m core.experiments fourier` writes core/results/fourier.npz for the embedded cnn and vit (a few minutes on
2 CPU cores); the bias page reads it.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from core import shapes
from core.experiments import RESULTS
from core.models import load_model

FOURIER_FILE = RESULTS / "fourier.npz"
MODELS = ("cnn", "vit")
STEP = 2  # frequencies -32, -30, ..., 30 cycles per image along each axis
EPS = 8.0  # L2 norm of the perturbation over the whole 3 x 64 x 64 image (pixels in [0, 1]): RMS 0.07 per value
IMAGES, SEED = 128, 90_909


def frequencies(size: int = shapes.CANVAS, step: int = STEP) -> np.ndarray:
    return np.arange(-size // 2, size // 2, step)


def basis(u: int, v: int, size: int = shapes.CANVAS, channels: int = 3) -> torch.Tensor:
    """The plane wave cos(2 pi (u x + v y) / size) (u cycles across, v down) on every channel, of unit L2 norm;
    [channels, size, size]. (u, v) and (-u, -v) give the same image."""
    y, x = torch.meshgrid(torch.arange(size, dtype=torch.float64), torch.arange(size, dtype=torch.float64),
                          indexing="ij")
    wave = torch.cos(2 * math.pi * (u * x + v * y) / size)
    if u == 0 and v == 0:
        wave = torch.ones_like(wave)
    img = wave.expand(channels, size, size)
    return (img / img.norm()).float()


@torch.inference_mode()
def error_map(model, images: torch.Tensor, labels: torch.Tensor, eps: float = EPS, step: int = STEP) -> np.ndarray:
    """Error rate [len(f), len(f)] (rows v, columns u) of a core.models.LoadedModel under each basis perturbation;
    each wave is computed once and mirrored to (-u, -v)."""
    f = frequencies(images.shape[-1], step)
    out = np.full((len(f), len(f)), np.nan)
    index = {int(k): i for i, k in enumerate(f)}
    for i, v in enumerate(f):
        for j, u in enumerate(f):
            if not np.isnan(out[i, j]):
                continue
            x = (images + eps * basis(int(u), int(v), images.shape[-1], images.shape[1])).clamp(0, 1)
            err = float((model.net(model.preprocess(x)).argmax(-1) != labels).double().mean())
            out[i, j] = err
            mi, mj = index.get(int(-v)), index.get(int(-u))
            if mi is not None and mj is not None:
                out[mi, mj] = err
    return out


def band_error(errors: np.ndarray, lo: float, hi: float, step: int = STEP) -> float:
    """Mean error over the frequencies with lo <= |(u, v)| < hi (cycles per image)."""
    f = frequencies(errors.shape[0] * step, step)
    radius = np.hypot(*np.meshgrid(f, f))
    inside = (radius >= lo) & (radius < hi)
    return float(errors[inside].mean())


def axis_error(errors: np.ndarray, f: np.ndarray) -> tuple[float, float]:
    """(mean error of the waves along an axis: u = 0 or v = 0, the zero frequency left out; mean error of all
    others). A ViT with square patches has a reason to treat axis-aligned waves apart: they line up with its grid."""
    u, v = np.meshgrid(f, f)
    on = ((u == 0) | (v == 0)) & ~((u == 0) & (v == 0))
    off = (u != 0) & (v != 0)
    return float(errors[on].mean()), float(errors[off].mean())


def load(path=None) -> dict[str, np.ndarray] | None:
    path = FOURIER_FILE if path is None else path
    if not path.exists():
        return None
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def main(argv=None) -> None:
    torch.set_num_threads(2)
    images, labels, _ = shapes.make_dataset(IMAGES, SEED, "full")
    out = {"frequencies": frequencies(), "eps": np.array(EPS), "images": np.array(IMAGES)}
    for name in MODELS:
        t = time.perf_counter()
        model = load_model(name)
        with torch.inference_mode():
            out[f"clean_{name}"] = np.array(float((model.net(model.preprocess(images)).argmax(-1) != labels)
                                                  .double().mean()))
        out[f"error_{name}"] = error_map(model, images, labels)
        print(f"{name}: {time.perf_counter() - t:.0f} s", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(FOURIER_FILE, **out)
    print(f"wrote {FOURIER_FILE}")
