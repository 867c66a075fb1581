"""Convolution equivariance: f(T x) against T f(x), what breaks it and what restores it.

Pure numpy/torch (no streamlit): the page calls these and draws what they return.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from core.messages import Message, listing, say
from core.models import total_stride
from core.transforms import (as_kernel, blur_pool, convolve, fractional_shift, max_pool, patchify, subsample,
                             translate)

# --- inputs -------------------------------------------------------------------------------------


# Preset names are identifiers (bookmarked in the URL); the page shows them as equivariance.preset.<slug>.
SIZED_PRESETS = ("Gaussian blur", "box", "random")
PRESETS = ("vertical edge", "Sobel x", "Sobel y", "Laplacian", "Gaussian blur", "sharpen", "box", "random")


def kernel_preset(name: str, size: int = 3, seed: int = 0) -> np.ndarray:
    """A named kernel. `size` (odd) applies to the Gaussian blur, box and random kernels, `seed` to random."""
    fixed = {
        "vertical edge": [[1, 0, -1], [1, 0, -1], [1, 0, -1]],
        "Sobel x": [[1, 0, -1], [2, 0, -2], [1, 0, -1]],
        "Sobel y": [[1, 2, 1], [0, 0, 0], [-1, -2, -1]],
        "Laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
        "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    }
    if name in fixed:
        return np.array(fixed[name], dtype=np.float64)
    if size < 1 or size % 2 == 0:
        raise ValueError(f"kernel size must be odd, got {size}")
    if name == "Gaussian blur":  # binomial weights: the discrete Gaussian
        row = np.array([math.comb(size - 1, i) for i in range(size)], dtype=np.float64)
        return np.outer(row, row) / row.sum() ** 2
    if name == "box":
        return np.full((size, size), 1.0 / size ** 2)
    if name == "random":
        return np.random.default_rng(seed).normal(size=(size, size))
    raise ValueError(f"unknown kernel preset {name!r}: choose one of {', '.join(PRESETS)}")


def custom_start(size: int) -> np.ndarray:
    """The custom kernel's first table: the 3 x 3 vertical edge in the middle of a size x size table of zeros (size
    odd, at least 3), so that a new table already convolves like a preset."""
    if size < 3 or size % 2 == 0:
        raise ValueError(f"a custom kernel's size must be odd and at least 3, got {size}")
    table = np.zeros((size, size))
    c = size // 2
    table[c - 1:c + 2, c - 1:c + 2] = kernel_preset("vertical edge")
    return table


# --- the two paths: shift-then-convolve (A) and convolve-then-shift (B) ------------------------


@dataclass
class Comparison:
    conv: torch.Tensor              # f(x)          [C, H, W]
    shift_then_conv: torch.Tensor   # A = f(T x)
    conv_then_shift: torch.Tensor   # B = T f(x)
    diff: torch.Tensor              # A - B
    max_err: float                  # max |A - B|
    tol: float                      # float-rounding tolerance: differences below it count as 0
    band: int                       # differing pixels lie within `band` px of the edge (0: none differ)
    band_bound: int                 # kernel radius + shift: where the theory says they can lie
    all_zero_kernel: bool
    gap_before: torch.Tensor        # global average pool of ReLU(f(x)), per channel
    gap_after: torch.Tensor         # ... of ReLU(f(T x))

    @property
    def equivariant(self) -> bool:
        return self.max_err <= self.tol

    @property
    def gap_change(self) -> float:
        """Largest change of the pooled feature, relative to its size (nan when the features are 0)."""
        scale = float(self.gap_before.abs().max())
        change = float((self.gap_after - self.gap_before).abs().max())
        return change / scale if scale > 0 else (0.0 if change == 0 else float("nan"))


def edge_distance(h: int, w: int) -> torch.Tensor:
    """[H, W] distance of every pixel to the nearest image edge (0 on the outermost ring)."""
    rows = torch.minimum(torch.arange(h), torch.arange(h).flip(0))
    cols = torch.minimum(torch.arange(w), torch.arange(w).flip(0))
    return torch.minimum(rows[:, None], cols[None, :])


def compare(img, kernel, dx: int, dy: int, mode: str = "zeros") -> Comparison:
    """Shift-then-convolve against convolve-then-shift, with the same border `mode` for both."""
    x = torch.as_tensor(img).float()
    k = as_kernel(kernel)
    conv = convolve(x, k, mode)
    a = convolve(translate(x, dx, dy, mode), k, mode)
    b = translate(conv, dx, dy, mode)
    diff = a - b
    absdiff = diff.abs()
    max_err = float(absdiff.max()) if diff.numel() else 0.0
    scale = float(x.abs().max()) * float(k.abs().sum())  # largest value a conv output can reach
    tol = 1e-5 * max(scale, 1e-12)
    differs = (absdiff > tol).reshape(-1, *diff.shape[-2:]).any(0)
    band = int(edge_distance(*differs.shape)[differs].max()) + 1 if differs.any() else 0
    radius = max(k.shape) // 2
    pooled = lambda t: torch.relu(t).mean(dim=(-2, -1))  # noqa: E731
    return Comparison(conv, a, b, diff, max_err, tol, band, radius + max(abs(int(dx)), abs(int(dy))),
                      bool((k == 0).all()), pooled(conv), pooled(a))


def verdict(c: Comparison, mode: str) -> Message:
    """One or two sentences: the number, and where and why it differs (locales: equivariance.verdict.*)."""
    if c.all_zero_kernel:
        return say("equivariance.verdict.all_zero")
    if c.equivariant:
        return say("equivariance.verdict.rounding", error=c.max_err) if c.max_err > 0 else \
            say("equivariance.verdict.exact")
    why = say("equivariance.verdict.why_zeros" if mode == "zeros" else "equivariance.verdict.why_circular")
    return say("equivariance.verdict.border", error=c.max_err, band=c.band, bound=c.band_bound, why=why)


# --- chains for the "what breaks it" chart ------------------------------------------------------


@dataclass
class Chain:
    name: str                                          # identifier: the rows' "chain", the picker's value
    stride: int                                        # input pixels per output pixel
    features: Callable[[torch.Tensor], torch.Tensor]   # [B, 3, H, W] in [0, 1] -> [B, D, h, w]
    size: int = 128                                    # working image side
    label: Message | None = None                       # what a person reads (locales: equivariance.chain.*)


def patch_embedding(patch: int = 8, dim: int = 16, channels: int = 3, seed: int = 0) -> Callable:
    """A ViT patch embedding with fixed random weights: linear map of each patchify() token."""
    weight = torch.randn(channels * patch * patch, dim, generator=torch.Generator().manual_seed(seed))

    def embed(x: torch.Tensor) -> torch.Tensor:
        tokens = patchify(x, patch) @ weight                       # [B, N, D], row-major grid
        gh, gw = x.shape[-2] // patch, x.shape[-1] // patch
        return tokens.transpose(1, 2).reshape(x.shape[0], dim, gh, gw)
    return embed


# The fixed hand-built chains: name (an identifier: rows, picker values, colours) -> what a person reads
CHAIN_LABELS = {"conv": say("equivariance.chain.conv"), "conv + stride 2": say("equivariance.chain.stride"),
                "conv + max-pool 2": say("equivariance.chain.max_pool"),
                "conv + blur-pool 2 (anti-aliased)": say("equivariance.chain.blur_pool")}


def basic_chains(kernel, patch: int = 8) -> dict[str, Chain]:
    """The hand-built chains, all with circular borders so the border is not what breaks them."""
    k = as_kernel(kernel)
    conv = lambda x: convolve(x, k, "circular")  # noqa: E731
    return {c.name: c for c in (
        Chain("conv", 1, conv, label=CHAIN_LABELS["conv"]),
        Chain("conv + stride 2", 2, lambda x: subsample(conv(x), 2), label=CHAIN_LABELS["conv + stride 2"]),
        Chain("conv + max-pool 2", 2, lambda x: max_pool(conv(x), 2, 2, "circular"),
              label=CHAIN_LABELS["conv + max-pool 2"]),
        Chain("conv + blur-pool 2 (anti-aliased)", 2, lambda x: blur_pool(conv(x), 2, "circular"),
              label=CHAIN_LABELS["conv + blur-pool 2 (anti-aliased)"]),
        Chain(f"ViT patch embedding (p={patch})", patch, patch_embedding(patch),
              label=say("equivariance.chain.patch", patch=patch)),
    )}


def model_chain(loaded) -> Chain:
    """A whole embedded network as a chain: a CNN's last feature map or a ViT's token map."""
    net = loaded.net
    mean = torch.tensor(loaded.mean).view(1, -1, 1, 1)
    std = torch.tensor(loaded.std).view(1, -1, 1, 1)
    if loaded.kind == "vit":
        patch = int(net.patch_embed.patch_size[0])
        prefix = int(getattr(net, "num_prefix_tokens", 1))

        @torch.inference_mode()
        def tokens(x):
            out = net.forward_features((x - mean) / std)[:, prefix:]   # [B, N, D] after the last norm
            gh, gw = x.shape[-2] // patch, x.shape[-1] // patch
            return out.transpose(1, 2).reshape(x.shape[0], -1, gh, gw)
        return Chain(f"whole ViT ({loaded.name}) token map", patch, tokens, int(loaded.input_size[0]),
                     say("equivariance.chain.whole_vit", model=loaded.name))

    @torch.inference_mode()
    def feature_map(x):
        return net.forward_features((x - mean) / std)
    # fully convolutional: a 128 px input gives a 4x4 map at stride 32 (64 px would give 2x2)
    return Chain(f"whole CNN ({loaded.name}) feature map", total_stride(net) or 32, feature_map, 128,
                 say("equivariance.chain.whole_cnn", model=loaded.name))


def chain_shifts(stride: int) -> list[int]:
    """Shifts measured for a chain: 0 .. 2 x stride (at least 0..16 px), 17 steps at most."""
    top = max(2 * stride, 16)
    return list(range(0, top + 1, max(1, top // 16)))


def working_image(img: torch.Tensor, size: int) -> torch.Tensor:
    """The image resized (antialiased) to size x size for the chart: [1, 3, size, size] in [0, 1]."""
    x = torch.as_tensor(img).float()
    x = x.expand(3, *x.shape[-2:]) if x.shape[0] == 1 else x
    if x.shape[-2:] == (size, size):
        return x[None]
    return F.interpolate(x[None], size=(size, size), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def crop_margin(side: int, stride: int) -> int:
    """Border band left out of the error, in output cells: 1/8 of the input side, at least 1 cell."""
    return max(1, math.ceil(side / 8 / stride))


def error_curve(chain: Chain, img: torch.Tensor, shifts: list[int] | None = None) -> list[dict]:
    """Normalised equivariance error ||f(T_s x) - T'f(x)|| / ||f(x)|| (interior crop) per horizontal shift s.

    T_s is a circular shift of the input by s px to the right; T' a circular shift of the output by s / stride
    cells. When s is not a multiple of the stride that is a fraction of a cell, done by Fourier interpolation
    (`fractional_shift`): a chain that only subsampled a smooth map would still match it, so what remains is
    aliasing, not half-cell misregistration. Error is nan when f(x) is 0 on the crop (nothing to compare).
    """
    shifts = chain_shifts(chain.stride) if shifts is None else shifts
    x = working_image(img, chain.size)
    batch = torch.cat([x] + [translate(x, s, 0, "circular") for s in shifts])
    feats = chain.features(batch).float()
    base, moved = feats[0], feats[1:]
    m = crop_margin(chain.size, chain.stride)
    inner = (slice(None), slice(m, -m), slice(m, -m))
    norm = float(base[inner].norm())
    rows = []
    for s, f_shifted in zip(shifts, moved):
        err = float((f_shifted - fractional_shift(base, s / chain.stride))[inner].norm())
        rows.append({"chain": chain.name, "shift_px": s, "reference_shift_cells": s / chain.stride,
                     "whole_multiple": s % chain.stride == 0,
                     "error": err / norm if norm > 0 else float("nan")})
    return rows


STRIDE_2_CHAINS = ("conv + stride 2", "conv + max-pool 2", "conv + blur-pool 2 (anti-aliased)")


def odd_shift_reading(rows) -> Message | None:
    """Which stride-2 chain aliases least: their mean error at shifts that are not a multiple of 2 px, from
    `error_curve` rows (a DataFrame); None unless at least two of them were measured. The Message's values:
    `errors` (each chain's mean error, a listing) and `best` (that chain's label)."""
    odd = rows[~rows["whole_multiple"]].groupby("chain")["error"].mean()
    named = [n for n in STRIDE_2_CHAINS if n in odd.index]
    if len(named) < 2 or odd[named].isna().any():
        return None
    best = odd[named].idxmin()
    errors = listing((say("equivariance.odd.error", error=float(odd[n]), chain=CHAIN_LABELS[n]) for n in named),
                     "comma")
    return say("equivariance.odd.blur_least" if "blur" in best else "equivariance.odd.other_least",
               errors=errors, best=CHAIN_LABELS[best])
