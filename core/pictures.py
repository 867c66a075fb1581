"""The one place that turns tensors into pictures: uint8 conversion, nearest-neighbour enlarging, colour ramps,
heat-map overlays, tile grids and filters as RGB. Pure numpy/torch: the pages show what these return.

Convention: torch tensors are channel-first ([3, H, W]), numpy arrays channel-last ([H, W, 3]), as st.image wants.
"""
from __future__ import annotations

import functools
import logging
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


# --- uint8 and enlarging ------------------------------------------------------------------------------------------
def to_uint8(img) -> np.ndarray:
    """Floats in [0, 1] -> H x W x 3 uint8 for st.image: a tensor [3, H, W] (or [1, H, W] / [H, W]), or a
    channel-last array [H, W, 3] (values outside [0, 1] are clipped, NaN becomes 0)."""
    if not isinstance(img, torch.Tensor):
        a = np.nan_to_num(np.asarray(img, dtype=np.float64))
        return (np.clip(a, 0, 1) * 255).round().astype(np.uint8)
    img = img.detach().float().cpu()
    if img.dim() == 2:
        img = img.unsqueeze(0)
    if img.dim() != 3 or img.shape[0] not in (1, 3):
        raise ValueError(f"expected an image [3, H, W], got shape {tuple(img.shape)}")
    img = img.expand(3, -1, -1)
    out = (img.nan_to_num(0.0).clamp(0, 1) * 255).round().to(torch.uint8)
    return out.permute(1, 2, 0).contiguous().numpy()



def upscale(rgb: np.ndarray, factor: int) -> np.ndarray:
    """[H, W, 3] -> nearest-neighbour enlarged by an integer factor, so the browser does not blur small images."""
    return np.repeat(np.repeat(rgb, factor, 0), factor, 1) if factor > 1 else rgb



_DIVERGING = np.array([[5, 48, 97], [67, 147, 195], [247, 247, 247], [214, 96, 77], [103, 0, 31]], float)  # RdBu
_SEQUENTIAL = np.array([[255, 255, 255], [254, 178, 76], [240, 59, 32], [60, 0, 30]], float)
_GREY = np.array([[0, 0, 0], [255, 255, 255]], float)


def _ramp(t: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Piecewise-linear colour ramp through `anchors` at t in [0, 1] -> RGB uint8."""
    pos = np.clip(t, 0, 1) * (len(anchors) - 1)
    i = np.minimum(pos.astype(int), len(anchors) - 2)
    f = (pos - i)[..., None]
    return (anchors[i] * (1 - f) + anchors[i + 1] * f).round().astype(np.uint8)


_STEPS = 1024  # table entries at t = k / 1024: 0, 1/2 and 1 land exactly on an entry
_TABLES = {id(a): _ramp(np.arange(_STEPS + 1) / _STEPS, a) for a in (_DIVERGING, _SEQUENTIAL, _GREY)}


def _colour(t: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """_ramp by table lookup (a 512x512 map in ~4 ms instead of ~10): t is rounded to 1/1024, which keeps every
    channel within one 8-bit level of the exact ramp (exact at t = 0, 1/2, 1 and at the anchors)."""
    k = np.rint(np.clip(t, 0, 1) * _STEPS).astype(np.intp)
    return _TABLES[id(anchors)][k]


def diverging_rgb(values: torch.Tensor | np.ndarray, vmax: float) -> np.ndarray:
    """Signed [H, W] -> RGB uint8: blue = -vmax, white = 0, red = +vmax (values beyond are saturated)."""
    v = np.asarray(values, dtype=np.float64)
    return _colour((v / vmax + 1) / 2 if vmax > 0 else np.full(v.shape, 0.5), _DIVERGING)


def sequential_rgb(values: torch.Tensor | np.ndarray, vmax: float) -> np.ndarray:
    """Non-negative [H, W] -> RGB uint8: white = 0 ... dark red = vmax."""
    v = np.asarray(values, dtype=np.float64)
    return _colour(v / vmax if vmax > 0 else np.zeros(v.shape), _SEQUENTIAL)


def grey_rgb(values: torch.Tensor | np.ndarray, vmax: float) -> np.ndarray:
    """Non-negative [H, W] -> RGB uint8 grey scale, like a photo: black = 0, white = vmax (beyond is saturated)."""
    v = np.asarray(values, dtype=np.float64)
    return _colour(v / vmax if vmax > 0 else np.zeros(v.shape), _GREY)


def heat_rgb(m: torch.Tensor | np.ndarray, side: int) -> np.ndarray:
    """A non-negative map as a heat map scaled to its own maximum, enlarged to at least `side` px."""
    return enlarge(sequential_rgb(m, float(m.max())), side)


def enlarge(rgb: np.ndarray, min_side: int = 300, frame: int = 2) -> np.ndarray:
    """Nearest-neighbour upscale so small images show crisp pixels instead of a browser blur, inside a
    thin grey frame (so an all-white map still shows where the image is)."""
    big = upscale(rgb, max(1, math.ceil(min_side / max(1, min(rgb.shape[:2])))))
    return np.pad(big, ((frame, frame), (frame, frame), (0, 0)), constant_values=160) if frame else big


# --- heat maps, overlays, tiles -----------------------------------------------------------------------------------
_STOPS = torch.tensor([[0.05, 0.03, 0.25], [0.55, 0.1, 0.55], [0.95, 0.45, 0.15], [1.0, 0.95, 0.3]])


def colormap(v: torch.Tensor) -> torch.Tensor:
    """Values in [0, 1] of any shape -> RGB [..., 3]: dark blue (0) -> purple -> orange -> yellow (1)."""
    pos = v.float().clamp(0, 1) * (len(_STOPS) - 1)
    lo = pos.floor().long().clamp(max=len(_STOPS) - 2)
    t = (pos - lo).unsqueeze(-1)
    return _STOPS[lo] * (1 - t) + _STOPS[lo + 1] * t


def stretch(v: torch.Tensor) -> torch.Tensor:
    """Min..max of v -> 0..1 (a constant map becomes all zeros)."""
    v = v.float()
    return (v - v.min()) / (v.max() - v.min()).clamp_min(1e-12)


def overlay(img: torch.Tensor, heat: torch.Tensor, alpha: float = 0.6) -> torch.Tensor:
    """Blend a heat map [h, w] over an image [3, H, W] -> [H, W, 3] in [0, 1].

    The map is stretched to 0..1, scaled up with nearest-neighbour (one block per patch or feature
    cell, so the resolution the model really has stays visible) and coloured with `colormap`.
    """
    H, W = img.shape[-2:]
    h = F.interpolate(stretch(heat)[None, None], size=(H, W), mode="nearest")[0, 0]
    base = img.float().permute(1, 2, 0).clamp(0, 1)
    return (base * (1 - alpha) + colormap(h) * alpha).clamp(0, 1)


def tile_grid(tiles: torch.Tensor, cols: int, gap: int = 1, fill: float = 1.0) -> torch.Tensor:
    """[K, h, w, 3] tiles -> one [H, W, 3] image, `cols` tiles per row, `gap` pixels of `fill` between."""
    k, h, w, c = tiles.shape
    rows = -(-k // cols)
    out = torch.full((rows * (h + gap) - gap, cols * (w + gap) - gap, c), float(fill))
    for i in range(k):
        r, q = divmod(i, cols)
        out[r * (h + gap):r * (h + gap) + h, q * (w + gap):q * (w + gap) + w] = tiles[i]
    return out


def filters_to_rgb(filters: torch.Tensor) -> torch.Tensor:
    """[K, 3, h, w] filters -> [K, h, w, 3] in [0, 1], each stretched to its own min..max for display."""
    f = filters.float()
    lo = f.amin(dim=(1, 2, 3), keepdim=True)
    hi = f.amax(dim=(1, 2, 3), keepdim=True)
    return ((f - lo) / (hi - lo).clamp_min(1e-12)).permute(0, 2, 3, 1)


def denormalize(x: torch.Tensor, mean, std) -> torch.Tensor:
    """Undo a model's normalisation: [B, 3, H, W] -> values in [0, 1] (what the model sees)."""
    m = torch.tensor(mean, dtype=x.dtype).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype).view(1, -1, 1, 1)
    return (x * s + m).clamp(0, 1)


# --- a font for Chinese labels drawn into pictures -----------------------------------------------------------------
# Where the usual packages put one: Debian/Ubuntu and Community Cloud (fonts-noto-cjk, packages.txt), Fedora, Arch,
# macOS, Windows. fontconfig is asked when none of them is there.
CJK_FONTS = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
             "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
             "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
             "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
             "/System/Library/Fonts/PingFang.ttc", "/System/Library/Fonts/Hiragino Sans GB.ttc",
             "C:/Windows/Fonts/msyh.ttc", "C:/Windows/Fonts/simhei.ttf")


@functools.cache
def cjk_font_path() -> str | None:
    """A font file with Chinese glyphs, or None (said once in the log): the one place the app looks for it."""
    for path in CJK_FONTS:
        if Path(path).is_file():
            return path
    if shutil.which("fc-list"):
        try:
            found = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            found = ""
        for line in found.splitlines():
            path = line.split(":")[0].strip()
            if Path(path).is_file():
                return path
    logging.getLogger(__name__).warning(
        "no font with Chinese glyphs found: Chinese labels are written beside the pictures instead of into them "
        "(install fonts-noto-cjk; on Streamlit Community Cloud packages.txt does)")
    return None
