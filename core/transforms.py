"""Image transforms for the equivariance page: translate, convolve, pooling, patchify.

Every function takes a float tensor whose last two dimensions are (H, W); leading
dimensions (channels, batch) are carried through untouched.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from core.messages import Explained

MODES = ("zeros", "circular")  # identifiers (bookmarked in the URL); the page shows them as equivariance.mode.*


class KernelError(Explained, ValueError):
    """A kernel that cannot be used; the message (locales: error.kernel.*) is written for the user."""


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"border mode must be one of {MODES}, got {mode!r}")


def _as_tensor(img) -> torch.Tensor:
    t = img if isinstance(img, torch.Tensor) else torch.as_tensor(np.asarray(img))
    if t.dim() < 2:
        raise ValueError(f"an image needs at least 2 dimensions (H, W), got shape {tuple(t.shape)}")
    return t if t.is_floating_point() else t.float()


def as_kernel(kernel, dtype=torch.float32) -> torch.Tensor:
    """Validate a 2-D kernel (odd sides, finite numbers) and return it as a tensor.

    Accepts a tensor, a numpy array or nested lists (e.g. the values of an edited table).
    """
    try:
        arr = np.asarray(kernel.detach().cpu() if isinstance(kernel, torch.Tensor) else kernel, dtype=np.float64)
    except (TypeError, ValueError):
        raise KernelError("error.kernel.not_number") from None
    if arr.size == 0:
        raise KernelError("error.kernel.empty")
    if arr.ndim != 2:
        raise KernelError("error.kernel.not_2d", dims=arr.ndim)
    if not np.isfinite(arr).all():
        raise KernelError("error.kernel.not_finite")
    kh, kw = arr.shape
    if kh % 2 == 0 or kw % 2 == 0:
        raise KernelError("error.kernel.even", height=kh, width=kw)
    return torch.tensor(arr, dtype=dtype)  # a copy: the table may be a read-only (cached) array, and it is tiny


def translate(img, dx: int, dy: int, mode: str = "zeros") -> torch.Tensor:
    """Move the content of `img` [..., H, W] right by `dx` and down by `dy` pixels (negative: left/up).

    mode="zeros": content leaving the frame is lost and the uncovered border is 0 (a shift of the
    whole width or more leaves nothing); mode="circular": content wraps around.
    """
    _check_mode(mode)
    x = _as_tensor(img)
    dx, dy = int(dx), int(dy)
    if mode == "circular":
        return torch.roll(x, shifts=(dy, dx), dims=(-2, -1))
    h, w = x.shape[-2:]
    out = torch.zeros_like(x)
    if abs(dx) >= w or abs(dy) >= h:
        return out
    src_r, dst_r = slice(max(0, -dy), h - max(0, dy)), slice(max(0, dy), h - max(0, -dy))
    src_c, dst_c = slice(max(0, -dx), w - max(0, dx)), slice(max(0, dx), w - max(0, -dx))
    out[..., dst_r, dst_c] = x[..., src_r, src_c]
    return out


def pad(x: torch.Tensor, left: int, right: int, top: int, bottom: int, mode: str) -> torch.Tensor:
    """Pad the last two dims with zeros or by wrapping around (any amount, even beyond the size)."""
    _check_mode(mode)
    if mode == "zeros":
        return F.pad(x, (left, right, top, bottom))
    h, w = x.shape[-2:]
    if max(left, right) <= w and max(top, bottom) <= h:  # F.pad's fast path (it wraps at most once)
        lead = x.shape[:-2]
        out = F.pad(x.reshape(-1, 1, h, w), (left, right, top, bottom), mode="circular")
        return out.reshape(*lead, *out.shape[-2:])
    rows = torch.arange(-top, h + bottom) % h
    cols = torch.arange(-left, w + right) % w
    return x.index_select(-2, rows).index_select(-1, cols)


def _depthwise(x: torch.Tensor, weight: torch.Tensor, padding: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """Apply one [kh, kw] cross-correlation to every plane of [..., H, W] (zero `padding` rows, cols)."""
    lead, (h, w) = x.shape[:-2], x.shape[-2:]
    n = math.prod(lead)
    w4 = weight.to(x.dtype)[None, None]
    if n == 1:
        out = F.conv2d(x.reshape(1, 1, h, w), w4, padding=padding)
    else:  # every plane as a channel of one depthwise conv: much faster on CPU than a batch of 1-channel maps
        planes = x.reshape(1, n, h, w).contiguous(memory_format=torch.channels_last)
        out = F.conv2d(planes, w4.expand(n, 1, -1, -1), padding=padding, groups=n)
    return out.reshape(*lead, *out.shape[-2:]).contiguous()


def convolve(img, kernel, mode: str = "zeros") -> torch.Tensor:
    """True 2-D convolution (kernel flipped) of every plane of `img` [..., H, W]; output of the same size.

    Equals scipy.ndimage.convolve(img, kernel, mode="constant") for mode="zeros" and mode="wrap"
    for mode="circular", for any odd kernel. (CNN layers compute cross-correlation, i.e. the
    unflipped kernel; a flip changes which filter you get, not the equivariance.)
    """
    _check_mode(mode)
    x = _as_tensor(img)
    k = as_kernel(kernel, dtype=x.dtype)
    rh, rw = k.shape[0] // 2, k.shape[1] // 2
    flipped = torch.flip(k, dims=(0, 1))
    if mode == "zeros":  # conv2d pads with zeros itself, without a padded copy
        return _depthwise(x, flipped, padding=(rh, rw))
    return _depthwise(pad(x, rw, rw, rh, rh, mode), flipped)


# --- building blocks of the strided / pooled chains --------------------------------------------

BINOMIAL_3 = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16.0


def subsample(x: torch.Tensor, stride: int) -> torch.Tensor:
    """Keep every `stride`-th pixel, starting at (0, 0) (what a stride-s conv does after the sum)."""
    return x[..., ::stride, ::stride]


def max_pool(x: torch.Tensor, size: int = 2, stride: int | None = None, mode: str = "circular") -> torch.Tensor:
    """Max over size x size windows anchored at the top-left, every `stride` pixels (default: size).

    With stride < size the windows run past the right/bottom edge; they are padded by `mode`
    (zeros pad with -inf so a max never sees a fake 0).
    """
    stride = size if stride is None else stride
    x = _as_tensor(x)
    lead = x.shape[:-2]
    extra = size - stride
    if extra:
        x = pad(x, 0, extra, 0, extra, "circular") if mode == "circular" else \
            F.pad(x, (0, extra, 0, extra), value=float("-inf"))
    out = F.max_pool2d(x.reshape(-1, 1, *x.shape[-2:]), size, stride)
    return out.reshape(*lead, *out.shape[-2:])


def blur(x: torch.Tensor, mode: str = "circular") -> torch.Tensor:
    """Low-pass with the 3x3 binomial filter [1,2,1]^T [1,2,1] / 16 (symmetric, so conv = correlation)."""
    return convolve(x, BINOMIAL_3, mode)


def blur_pool(x: torch.Tensor, stride: int = 2, mode: str = "circular") -> torch.Tensor:
    """Anti-aliased max-pool (Zhang 2019, MaxBlurPool): max-pool 2 with stride 1, blur, then subsample."""
    return subsample(blur(max_pool(x, 2, 1, mode), mode), stride)


def patchify(img, patch: int) -> torch.Tensor:
    """Cut `img` [C, H, W] (or [B, C, H, W]) into non-overlapping patch x patch tokens.

    Returns [N, C*p*p] (or [B, N, C*p*p]): tokens in row-major order over the patch grid, each
    token flattened channel first, then row, then column (the order of a ViT's patch-embedding
    conv weight). Rows/columns beyond the last whole patch are dropped, as a stride-p conv does.
    """
    x = _as_tensor(img)
    if x.dim() not in (3, 4):
        raise ValueError(f"patchify wants [C, H, W] or [B, C, H, W], got shape {tuple(x.shape)}")
    if patch < 1 or patch > min(x.shape[-2:]):
        raise ValueError(f"patch size {patch} does not fit an image of {x.shape[-2]}x{x.shape[-1]}")
    batch = x if x.dim() == 4 else x[None]
    tokens = F.unfold(batch, kernel_size=patch, stride=patch).transpose(1, 2)
    return tokens if x.dim() == 4 else tokens[0]


def fractional_shift(x: torch.Tensor, cells: float) -> torch.Tensor:
    """Circular shift of `x` [..., W] right by `cells` (any real number) along the last axis, by Fourier
    interpolation: exact for a band-limited signal, and the same as torch.roll for a whole number of cells.

    Every frequency k is delayed by exp(-2 pi i k cells / W); the Nyquist term of an even W, which must stay
    real, is scaled by cos(pi cells) instead.
    """
    if float(cells).is_integer():
        return torch.roll(x, int(cells), dims=-1)
    w = x.shape[-1]
    spec = torch.fft.rfft(x.double(), dim=-1)
    k = torch.arange(spec.shape[-1], dtype=torch.float64)
    phase = torch.exp(-2j * math.pi * k * cells / w)
    if w % 2 == 0:
        phase[-1] = math.cos(math.pi * cells)
    return torch.fft.irfft(spec * phase, n=w, dim=-1).to(x.dtype)
