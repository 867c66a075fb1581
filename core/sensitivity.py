"""Slide one object across the frame and record every model's prediction at every position.

Positions are the object's top-left corner in canvas pixels. All frames of a sweep are composed in
chunks and each model runs once per chunk, so a sweep costs about one batched forward pass.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core import shapes
from core.messages import Explained, Message, say
from core.shapes import Sprite, composite

PATHS = ("horizontal", "vertical", "diagonal", "grid")


class SensitivityError(Explained, ValueError):
    """A sweep a person asked for that cannot be made (an object larger than the frame, a grid with too many
    positions, ...): str() is the English sentence, `message` words it in the session's language."""


@dataclass(frozen=True)
class Path:
    """Top-left positions `xs`, `ys` (1-D int arrays, in path order); for a grid, `grid_shape` = (ny, nx)."""
    kind: str
    xs: np.ndarray
    ys: np.ndarray
    grid_shape: tuple[int, int] | None = None

    def __len__(self):
        return len(self.xs)


MAX_POSITIONS = 2_500  # frames in one sweep: a 50 x 50 grid, ~10 s for two timm models on 2 cores


def make_path(kind: str, sprite_shape: tuple[int, int], canvas: tuple[int, int], step: int = 1,
              fixed: int | None = None) -> Path:
    """Positions that keep the whole object inside the canvas, `step` pixels apart.

    horizontal: left edge to right edge at height `fixed` (default: centred); vertical: top to bottom at
    column `fixed`; diagonal: top-left to bottom-right; grid: every (x, y) on a `step` lattice.
    """
    if kind not in PATHS:
        raise SensitivityError("error.sensitivity.unknown_path", kind=kind, choices=", ".join(PATHS))
    if step < 1:
        raise SensitivityError("error.sensitivity.step")
    (sh, sw), (h, w) = sprite_shape, canvas
    if sh > h or sw > w:
        raise SensitivityError("error.sensitivity.too_large", width=sw, height=sh, frame_width=w, frame_height=h)
    xr, yr = np.arange(0, w - sw + 1, step), np.arange(0, h - sh + 1, step)
    if kind == "horizontal":
        y = (h - sh) // 2 if fixed is None else int(np.clip(fixed, 0, h - sh))
        return Path(kind, xr, np.full_like(xr, y))
    if kind == "vertical":
        x = (w - sw) // 2 if fixed is None else int(np.clip(fixed, 0, w - sw))
        return Path(kind, np.full_like(yr, x), yr)
    if kind == "diagonal":
        n = min(len(xr), len(yr))
        return Path(kind, xr[:n], yr[:n])
    if len(xr) * len(yr) > MAX_POSITIONS:
        raise SensitivityError("error.sensitivity.too_many", nx=len(xr), ny=len(yr), positions=len(xr) * len(yr),
                               cap=MAX_POSITIONS)
    gy, gx = np.meshgrid(yr, xr, indexing="ij")
    return Path(kind, gx.ravel(), gy.ravel(), (len(yr), len(xr)))


def frames(background: torch.Tensor, sprite: Sprite, path: Path, index: int) -> torch.Tensor:
    """The single frame at position `index` of `path`, [3, H, W]."""
    return composite(background, sprite, path.xs[index:index + 1], path.ys[index:index + 1])[0]


# Pixels per batched forward pass. A model's activations grow with the batch while its speed on a CPU core stops
# improving long before: 32 frames of 64x64 run as fast per frame as 128 (measured) with a quarter of the memory.
CHUNK_PIXELS = 32 * 64 * 64


def frames_per_chunk(height: int, width: int) -> int:
    """Frames of height x width per forward pass: 32 at 64x64, 2 at 224x224, at least 1."""
    return max(1, CHUNK_PIXELS // (height * width))


@torch.inference_mode()
def sweep(models: dict, background: torch.Tensor, sprite: Sprite, path: Path, chunk: int | None = None,
          progress=None) -> dict[str, np.ndarray]:
    """Probabilities [P, C] for each model in `models` (name -> LoadedModel) at every position of `path`.

    Frames are composed `chunk` at a time (default: `frames_per_chunk` of the background's size) and shared by
    all models; `progress(done, total)` is called after each chunk.
    """
    if len(path) == 0:
        raise SensitivityError("error.sensitivity.no_positions")
    if chunk is None:
        chunk = frames_per_chunk(*background.shape[-2:])
    if chunk < 1:
        raise ValueError("chunk must be at least 1")
    out = {name: [] for name in models}
    for start in range(0, len(path), chunk):
        batch = composite(background, sprite, path.xs[start:start + chunk], path.ys[start:start + chunk])
        for name, model in models.items():
            out[name].append(model.net(model.preprocess(batch)).float().softmax(-1))
        if progress is not None:
            progress(min(start + chunk, len(path)), len(path))
    return {name: torch.cat(p).numpy() for name, p in out.items()}


def consistency(top1: np.ndarray) -> float:
    """Zhang (2019): percent of position pairs (o1, o2), o1 != o2, with the same top-1 class, over *all* pairs
    (exact, not sampled): sum over classes of n_c (n_c - 1), divided by n (n - 1)."""
    top1 = np.asarray(top1).ravel()
    n = len(top1)
    if n < 2:
        return float("nan")
    counts = np.unique(top1, return_counts=True)[1].astype(np.float64)
    return float(100.0 * (counts * (counts - 1)).sum() / (n * (n - 1)))


def _neighbour_pairs(values: np.ndarray, grid_shape) -> tuple[np.ndarray, np.ndarray]:
    """Values at both ends of every 1-step neighbour pair (along the path; on a grid, along x and y)."""
    if grid_shape is None:
        return values[:-1], values[1:]
    g = values.reshape(*grid_shape, *values.shape[1:])
    first = np.concatenate([g[:, :-1].reshape(-1, *values.shape[1:]), g[:-1, :].reshape(-1, *values.shape[1:])])
    second = np.concatenate([g[:, 1:].reshape(-1, *values.shape[1:]), g[1:, :].reshape(-1, *values.shape[1:])])
    return first, second


def jaggedness(top1: np.ndarray, grid_shape=None) -> float:
    """Azulay & Weiss (2019): probability that the top-1 class changes between neighbouring positions."""
    a, b = _neighbour_pairs(np.asarray(top1).ravel(), grid_shape)
    return float(np.mean(a != b)) if len(a) else float("nan")


def mean_absolute_change(prob: np.ndarray, grid_shape=None) -> float:
    """Azulay & Weiss (2019): mean |p(i+1) - p(i)| of a probability between neighbouring positions."""
    a, b = _neighbour_pairs(np.asarray(prob, dtype=np.float64).ravel(), grid_shape)
    return float(np.mean(np.abs(a - b))) if len(a) else float("nan")


def metrics(probs: np.ndarray, target: int, path: Path) -> dict:
    """The page's per-model numbers for probabilities [P, C] along `path`, for class `target`."""
    if not 0 <= target < probs.shape[1]:
        raise ValueError(f"class index {target} is out of range 0..{probs.shape[1] - 1}")
    top1 = probs.argmax(1)
    p_target = probs[:, target]
    return {
        "accuracy": float(np.mean(top1 == target)),
        "min_confidence": float(p_target.min()),
        "max_confidence": float(p_target.max()),
        "consistency": consistency(top1),
        "jaggedness": jaggedness(top1, path.grid_shape),
        "mac_top1": mean_absolute_change(probs.max(1), path.grid_shape),
        "mac_target": mean_absolute_change(p_target, path.grid_shape),
    }


BACKGROUNDS = ("noisy gradient", "black", "grey", "white")


def make_background(kind: str, canvas: tuple[int, int], seed: int = 0) -> torch.Tensor:
    """A [3, H, W] background: the training data's noisy gradient (seeded) or a flat colour."""
    h, w = canvas
    if kind == "noisy gradient":
        bg = shapes.random_background(np.random.default_rng(seed), max(h, w))
        return bg[:, :h, :w].contiguous()
    flat = {"black": 0.0, "grey": 0.5, "white": 1.0}
    if kind in flat:
        return torch.full((3, h, w), flat[kind])
    raise SensitivityError("error.sensitivity.unknown_background", kind=kind, choices=", ".join(BACKGROUNDS))


def _runs(positions: np.ndarray, step: int) -> str:
    """'3–7, 12' for sorted integer positions `step` apart."""
    groups = np.split(positions, np.where(np.diff(positions) > step)[0] + 1)
    return ", ".join(f"{g[0]}" if len(g) == 1 else f"{g[0]}–{g[-1]}" for g in groups)


def reading(rows: list[dict]) -> list[Message]:
    """Sentences that read a comparison, as Messages (keys `sensitivity.reading.*`). Each row has name, jaggedness,
    mac_target, positions (count), n_wrong, wrong_at (sorted positions along `axis` with a wrong top-1, or None on a
    grid), axis and step.

    Only a model that is right at most positions can be called the steadiest: one that is steadily wrong is not
    robust, just wrong."""
    if not rows:
        return []
    right = [r for r in rows if r["n_wrong"] <= r["positions"] / 2]
    if right:
        steady = min(right, key=lambda r: (r["jaggedness"], r["mac_target"]))
        parts = [say("sensitivity.reading.steadiest", name=steady["name"], jaggedness=steady["jaggedness"],
                     mac=steady["mac_target"])]
    else:
        parts = [say("sensitivity.reading.none_steady")]
    for r in rows:
        wrong = np.asarray(r["wrong_at"])
        if r["n_wrong"] == 0:
            parts.append(say("sensitivity.reading.right_everywhere", name=r["name"]))
        elif r["n_wrong"] == r["positions"]:
            parts.append(say("sensitivity.reading.wrong_everywhere", name=r["name"]))
        elif r.get("axis"):
            parts.append(say("sensitivity.reading.wrong_at", name=r["name"], n_wrong=r["n_wrong"],
                             positions=r["positions"], axis=r["axis"], where=_runs(wrong, r["step"])))
        else:
            parts.append(say("sensitivity.reading.wrong_some", name=r["name"], n_wrong=r["n_wrong"],
                             positions=r["positions"]))
    return parts
