"""Procedural shapes on canvases: the embedded models' training data and the sensitivity page's objects.

An object is a *sprite*: a colour and an anti-aliased alpha mask of `size x size` pixels, rendered
once and pasted at integer positions, so an object at (x, y) is an exact pixel shift of the same
object at (x', y'). Position (x, y) is the top-left corner of the sprite's box on the canvas.
Everything is deterministic from a seed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from core.messages import Explained

CLASSES = ("circle", "square", "triangle", "star", "cross", "ring", "crescent", "heart", "arrow", "semicircle")
# Five more classes that no embedded model has seen: the target task of the pre-training experiment
# (core/pretraining.py), whose source task is CLASSES. A sprite's label indexes ALL_SHAPES.
TARGET_CLASSES = ("pentagon", "hexagon", "ellipse", "trapezoid", "lightning")
ALL_SHAPES = CLASSES + TARGET_CLASSES
# each class's colour on every chart that colours by class, in every language (like core.models' colours per model):
# Tableau 10 for CLASSES, its light partners for TARGET_CLASSES
CLASS_COLOURS = dict(zip(ALL_SHAPES, ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                                      "#7f7f7f", "#bcbd22", "#17becf",
                                      "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5"), strict=True))
CANVAS = 64
SIZE_RANGE = (14, 26)  # sprite side in pixels, inclusive
CENTER_RADIUS = 6  # "centre" data: object centre within this many pixels of the canvas centre
SUPERSAMPLE = 4
MIN_CONTRAST = 0.3  # objects are at least this much brighter (luminance) than their background


def _regular(n: int, radius: float, phase: float = -math.pi / 2) -> np.ndarray:
    a = phase + 2 * math.pi * np.arange(n) / n
    return np.stack([radius * np.cos(a), radius * np.sin(a)], 1)


def _star(points: int = 5, outer: float = 0.95, inner: float = 0.4) -> np.ndarray:
    a = -math.pi / 2 + math.pi * np.arange(2 * points) / points
    r = np.where(np.arange(2 * points) % 2 == 0, outer, inner)
    return np.stack([r * np.cos(a), r * np.sin(a)], 1)


# Polygons in unit coordinates (u right, v down), all inside the unit disc so rotation never clips.
_POLYGONS = {
    "square": np.array([[-0.68, -0.68], [0.68, -0.68], [0.68, 0.68], [-0.68, 0.68]]),
    "triangle": _regular(3, 0.95),
    "star": _star(),
    "cross": np.array([[-0.25, -0.92], [0.25, -0.92], [0.25, -0.25], [0.92, -0.25], [0.92, 0.25], [0.25, 0.25],
                       [0.25, 0.92], [-0.25, 0.92], [-0.25, 0.25], [-0.92, 0.25], [-0.92, -0.25], [-0.25, -0.25]]),
    "arrow": np.array([[-0.92, -0.22], [0.08, -0.22], [0.08, -0.62], [0.92, 0.0], [0.08, 0.62], [0.08, 0.22],
                       [-0.92, 0.22]]),
    "pentagon": _regular(5, 0.95),
    "hexagon": _regular(6, 0.95),
    "trapezoid": np.array([[-0.4, -0.55], [0.4, -0.55], [0.9, 0.4], [-0.9, 0.4]]),
    "lightning": np.array([[0.2, -0.95], [-0.6, 0.15], [-0.05, 0.15], [-0.3, 0.95], [0.6, -0.2], [0.08, -0.2],
                           [0.5, -0.95]]),
}


def _inside_polygon(u: np.ndarray, v: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Even-odd rule, vectorised over points."""
    inside = np.zeros(u.shape, bool)
    for (x1, y1), (x2, y2) in zip(poly, np.roll(poly, -1, 0)):
        if y1 == y2:
            continue
        crosses = (y1 > v) != (y2 > v)
        x_at = (x2 - x1) * (v - y1) / (y2 - y1) + x1
        inside ^= crosses & (u < x_at)
    return inside


def _inside(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    r2 = u * u + v * v
    if shape in _POLYGONS:
        return _inside_polygon(u, v, _POLYGONS[shape])
    if shape == "circle":
        return r2 <= 0.92 ** 2
    if shape == "ring":
        return (r2 <= 0.95 ** 2) & (r2 >= 0.55 ** 2)
    if shape == "crescent":
        return (r2 <= 0.95 ** 2) & ((u - 0.42) ** 2 + v * v >= 0.72 ** 2)
    if shape == "semicircle":
        w = v + 0.35  # flat side above the centre so the half-disc sits centred in its box
        return (u * u + w * w <= 0.95 ** 2) & (w >= 0)
    if shape == "ellipse":
        return (u / 0.95) ** 2 + (v / 0.55) ** 2 <= 1
    if shape == "heart":  # (x^2 + y^2 - 1)^3 - x^2 y^3 <= 0, y up, scaled into the unit disc
        x, y = u * 1.22, -v * 1.22 + 0.12
        return (x * x + y * y - 1) ** 3 - x * x * y ** 3 <= 0
    raise ValueError(f"unknown shape {shape!r}; choose one of {', '.join(ALL_SHAPES)}")


def render_mask(shape: str | int, size: int, angle: float = 0.0, supersample: int = SUPERSAMPLE) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] of a `size x size` sprite, rotated by `angle` degrees (clockwise)."""
    if isinstance(shape, (int, np.integer)):
        shape = ALL_SHAPES[int(shape)]
    if size < 3:
        raise ValueError("an object needs at least 3 pixels a side")
    n = size * supersample
    c = (np.arange(n) + 0.5) / n * 2 - 1
    y, x = np.meshgrid(c, c, indexing="ij")
    t = math.radians(angle)
    u = math.cos(t) * x + math.sin(t) * y  # rotate sample points by -angle = shape by +angle
    v = -math.sin(t) * x + math.cos(t) * y
    cover = _inside(shape, u, v).astype(np.float32)
    return cover.reshape(size, supersample, size, supersample).mean((1, 3))


@dataclass(frozen=True)
class Sprite:
    """One object: `alpha` [h, w] coverage in [0, 1] and `rgb` [3, h, w] colours; `label` its class or -1."""
    label: int
    alpha: torch.Tensor
    rgb: torch.Tensor

    @property
    def size(self) -> int:
        return max(self.alpha.shape)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.alpha.shape)


def make_sprite(shape: str | int, size: int, angle: float = 0.0, color=(1.0, 1.0, 1.0)) -> Sprite:
    label = ALL_SHAPES.index(shape) if isinstance(shape, str) else int(shape)
    if not 0 <= label < len(ALL_SHAPES):
        raise ValueError(f"class index {label} out of range 0..{len(ALL_SHAPES) - 1}")
    alpha = torch.from_numpy(render_mask(label, size, angle))
    rgb = torch.as_tensor(color, dtype=torch.float32).reshape(3, 1, 1).expand(3, size, size)
    return Sprite(label, alpha, rgb)


class RegionError(Explained, ValueError):
    """A rectangle a person chose that cannot be cut from the image (locales: error.region.*)."""


def sprite_from_region(img: torch.Tensor, x: int, y: int, w: int, h: int) -> Sprite:
    """A rectangular, fully opaque object cut from `img` [3, H, W] (a region of a photo); RegionError, worded for
    the person who chose it, when the rectangle is empty or does not fit in the image."""
    _, H, W = img.shape
    if w < 1 or h < 1:
        raise RegionError("error.region.empty")
    if x < 0 or y < 0 or x + w > W or y + h > H:
        raise RegionError("error.region.outside", width=w, height=h, x=x, y=y, image_width=W, image_height=H)
    return Sprite(-1, torch.ones(h, w), img[:, y:y + h, x:x + w].clone())


def composite(background: torch.Tensor, sprite: Sprite, xs, ys) -> torch.Tensor:
    """Paste `sprite` at every top-left position (xs[i], ys[i]) on `background` [3, H, W].

    Returns a batch [P, 3, H, W]. Parts of the sprite outside the canvas are cut off.
    """
    xs = torch.as_tensor(xs, dtype=torch.long).reshape(-1)
    ys = torch.as_tensor(ys, dtype=torch.long).reshape(-1)
    if xs.numel() != ys.numel():
        raise ValueError("xs and ys must have the same length")
    _, h, w = background.shape
    sh, sw = sprite.shape
    out = background.expand(xs.numel(), 3, h, w).clone()
    for i, (x, y) in enumerate(zip(xs.tolist(), ys.tolist())):
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + sw, w), min(y + sh, h)
        if x0 < x1 and y0 < y1:
            a = sprite.alpha[y0 - y:y1 - y, x0 - x:x1 - x]
            out[i, :, y0:y1, x0:x1] += a * (sprite.rgb[:, y0 - y:y1 - y, x0 - x:x1 - x] - out[i, :, y0:y1, x0:x1])
    return out


def _luminance(c: np.ndarray) -> np.ndarray:
    return c @ np.array([0.299, 0.587, 0.114])


def random_background(rng: np.random.Generator, canvas: int = CANVAS) -> torch.Tensor:
    """A dark linear gradient between two colours with Gaussian noise, [3, canvas, canvas].

    Backgrounds stay darker than objects (see `random_sprite`): a fixed contrast polarity keeps the task
    learnable in the CPU budget of `python -m core.train`, while colours, gradients and noise still vary.
    """
    c0 = rng.uniform(0, 1, 3) * rng.uniform(0.05, 0.5)
    c1 = np.clip(c0 + rng.normal(0, 0.12, 3), 0, 0.5)
    t = rng.uniform(0, 2 * math.pi)
    g = np.linspace(-0.5, 0.5, canvas)
    ramp = (math.cos(t) * g[None, :] + math.sin(t) * g[:, None]) + 0.5
    img = c0[:, None, None] + (c1 - c0)[:, None, None] * ramp[None]
    img = img + rng.normal(0, rng.uniform(0, 0.06), img.shape)
    return torch.from_numpy(np.clip(img, 0, 1).astype(np.float32))


def random_colour(rng: np.random.Generator, min_luminance: float) -> np.ndarray:
    """A random RGB colour at least as bright as `min_luminance` (rejection sampling)."""
    while True:
        c = rng.uniform(0, 1, 3)
        if _luminance(c) >= min_luminance:
            return c.astype(np.float32)


def random_sprite(rng: np.random.Generator, label: int | None = None, size_range=SIZE_RANGE,
                  min_luminance: float = 0.0) -> Sprite:
    label = int(rng.integers(len(CLASSES))) if label is None else label
    size = int(rng.integers(size_range[0], size_range[1] + 1))
    return make_sprite(label, size, float(rng.uniform(0, 360)), random_colour(rng, min_luminance))


def random_position(rng: np.random.Generator, size: int, region: str = "full", canvas: int = CANVAS):
    """Top-left (x, y) for a sprite of `size`: anywhere inside the canvas, or centred within CENTER_RADIUS."""
    if region == "full":
        return tuple(int(v) for v in rng.integers(0, canvas - size + 1, 2))
    if region == "center":
        lo = (canvas - size) / 2 - CENTER_RADIUS
        return tuple(int(round(v)) for v in rng.uniform(lo, lo + 2 * CENTER_RADIUS, 2))
    raise ValueError(f"region must be 'full' or 'center', not {region!r}")


def make_dataset(n: int, seed: int, region: str = "full", canvas: int = CANVAS, dtype=torch.float32,
                 classes: tuple[str, ...] = CLASSES):
    """`n` images [n, 3, canvas, canvas], labels [n] (balanced; the index in `classes`), and object centres
    [n, 2] (x, y). dtype torch.uint8 stores 8-bit pixels (a quarter of the memory, for large training sets).
    """
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(classes)
    rng.shuffle(labels)
    shape_of = [ALL_SHAPES.index(c) for c in classes]
    images = torch.empty(n, 3, canvas, canvas, dtype=dtype)
    centres = torch.empty(n, 2)
    for i, label in enumerate(labels):
        bg = random_background(rng, canvas)
        bg_luminance = float(_luminance(bg.mean((1, 2)).numpy()))
        sprite = random_sprite(rng, shape_of[label], min_luminance=min(bg_luminance + MIN_CONTRAST, 0.95))
        x, y = random_position(rng, sprite.size, region, canvas)
        frame = composite(bg, sprite, [x], [y])[0]
        images[i] = (frame * 255).round() if dtype == torch.uint8 else frame
        centres[i] = torch.tensor([x + sprite.size / 2, y + sprite.size / 2])
    return images, torch.from_numpy(labels).long(), centres
