"""Decode and validate images (uploads, camera shots, files) and make the built-in sample scenes.

Every image leaves this module as a float RGB tensor [3, H, W] with values in [0, 1].

`load_image(data)` is the one entry point for outside data. Anything it cannot or must not decode
raises `ImageError` (a ValueError) whose message can be shown to a user as is.

Conventions
- Transparency (RGBA, LA, palette with a transparent colour) is composited over WHITE, the way a
  browser or a slide shows a transparent logo on a light page.
- 16-bit images use their full range: 65535 -> 1.0. 32-bit integer images ("I") whose values fit
  in 0..65535 are read as 16-bit; other integer or float ("F") images are stretched min..max to 0..1
  (float images already inside [0, 1] are kept as they are).
- EXIF orientation is applied, so a phone photo appears the way the phone showed it.
- Animated GIF / PNG / WebP: the first frame.
- Size checks happen on the header, before any pixel is decoded.

Pillow's global settings are left alone: LOAD_TRUNCATED_IMAGES stays off (truncated files are
errors) and MAX_IMAGE_PIXELS keeps its value; our own MAX_PIXELS is stricter and checked first.
"""
from __future__ import annotations

import functools
import io
import math
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from core import shapes
from core.messages import Explained

try:  # the natural photos are optional: without scikit-image the procedural scenes remain
    import skimage.data
except Exception:
    skimage = None

MAX_PIXELS = 40_000_000  # 40 megapixels, checked from the header before decoding
MIN_SIDE = 8  # smaller images are too small to show anything about convolution or patches
MAX_UPLOAD_MB = 20  # matches .streamlit/config.toml server.maxUploadSize (Streamlit's MB = 1024 * 1024 bytes)
MAX_BYTES = MAX_UPLOAD_MB * 1024 * 1024

# Formats we hand to Pillow; anything else is refused without trying its decoder. (Camera JPEGs with
# extra preview frames come back from the JPEG opener as format "MPO".)
FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")
SUPPORTED = "PNG, JPEG, WebP, BMP, GIF or TIFF"

# Background for transparent pixels (see module docstring).
BACKGROUND = (255, 255, 255)

# `warnings.catch_warnings` swaps the process-wide filter list; the lock keeps our own concurrent
# decodes from restoring each other's filters.
_OPEN_LOCK = threading.Lock()


class ImageError(Explained, ValueError):
    """An input that cannot or must not be decoded; the message (locales: error.image.*) is written for the user."""


@dataclass(frozen=True)
class DecodedImage:
    image: torch.Tensor  # [3, H, W] float32 in [0, 1]
    original_size: tuple[int, int]  # (width, height) after EXIF orientation, before any downscaling
    format: str  # Pillow's format name, e.g. "PNG"

    @property
    def downscaled(self) -> bool:
        return tuple(self.image.shape[-1:-3:-1]) != self.original_size


# --------------------------------------------------------------------------------------------- decode

def load_image(data) -> torch.Tensor:
    """Decode `data` (bytes or a path) to a float RGB tensor [3, H, W] in [0, 1], or raise ImageError."""
    return decode_image(data).image


def decode_image(data, max_side: int | None = None) -> DecodedImage:
    """Like `load_image`, also reporting the original size; with `max_side`, large images are
    downscaled (antialiased) so that neither side exceeds it, cheaply where the format allows."""
    raw = _read_bytes(data)
    if not raw:
        raise ImageError("error.image.empty")
    if len(raw) > MAX_BYTES:
        raise ImageError("error.image.file_too_big", mb=_mb(len(raw)), limit=MAX_UPLOAD_MB)

    img = _open(raw)
    fmt = img.format or "image"
    _check_size(*img.size)
    original_size = img.size[::-1] if _orientation(img) in (5, 6, 7, 8) else img.size
    if max_side is not None and fmt in ("JPEG", "MPO"):
        img.draft("RGB", (max_side, max_side))  # libjpeg decodes at 1/2, 1/4 or 1/8 scale, never below
    try:
        img.load()  # a full decode, so a truncated or corrupt file fails here and not later
    except Image.DecompressionBombError as e:
        raise _too_large(*img.size) from e
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageError("error.image.truncated", format=fmt, detail=e) from e
    except MemoryError as e:
        raise ImageError("error.image.no_memory") from e
    except Exception as e:  # Pillow's decoders can fail in many ways on hostile input
        raise ImageError("error.image.damaged", format=fmt, detail=type(e).__name__) from e

    img = _apply_orientation(img)
    image = _to_tensor(img, max_side)
    if max_side is not None:
        image = fit_within(image, max_side)
    return DecodedImage(image, original_size, fmt)


def _read_bytes(data) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        try:
            if not path.is_file():
                raise ImageError("error.image.no_file", name=path.name or path)
            size = path.stat().st_size
            if size > MAX_BYTES:
                raise ImageError("error.image.file_too_big", mb=_mb(size), limit=MAX_UPLOAD_MB)
            return path.read_bytes()
        except OSError as e:
            raise ImageError("error.image.unreadable", name=path.name or path, detail=e.strerror or e) from e
    if hasattr(data, "getvalue"):  # e.g. Streamlit's UploadedFile, io.BytesIO
        return _read_bytes(data.getvalue())
    raise ImageError("error.image.not_bytes", type=type(data).__name__)


def _open(raw: bytes) -> Image.Image:
    """Parse the header only (Pillow decodes lazily). Bomb warnings become errors, just here."""
    try:
        with _OPEN_LOCK, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(raw), formats=FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError("error.image.bomb", limit=MAX_PIXELS / 1e6) from e
    except Image.UnidentifiedImageError as e:
        raise ImageError("error.image.not_an_image", formats=SUPPORTED) from e
    except Exception as e:  # a header so broken that the format's parser itself fails
        raise ImageError("error.image.bad_header", formats=SUPPORTED, detail=type(e).__name__) from e


def _check_size(width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise _too_large(width, height)
    if min(width, height) < MIN_SIDE:
        raise ImageError("error.image.too_small", width=width, height=height, min_side=MIN_SIDE)


def _too_large(width: int, height: int) -> ImageError:
    return ImageError("error.image.too_large", width=width, height=height, megapixels=width * height / 1e6,
                      limit=MAX_PIXELS / 1e6)


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def _orientation(img: Image.Image) -> int:
    try:
        return int(img.getexif().get(0x0112, 1))
    except Exception:  # a malformed EXIF block counts as no orientation
        return 1


def _apply_orientation(img: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(img)
    except Exception:  # a malformed EXIF block: show the pixels as stored rather than refuse the photo
        return img


_HIGH_DEPTH = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


def _to_tensor(img: Image.Image, max_side: int | None) -> torch.Tensor:
    if img.mode in _HIGH_DEPTH:
        gray = _high_depth_to_unit(img)
        return torch.from_numpy(gray).unsqueeze(0).expand(3, -1, -1).contiguous()
    rgb = _to_rgb8(img)
    if max_side is not None and max(rgb.size) >= 2 * max_side:
        rgb = rgb.reduce(max(rgb.size) // max_side)  # cheap box filter first; exact resize follows
    arr = np.asarray(rgb, dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float().div_(255.0)


def _high_depth_to_unit(img: Image.Image) -> np.ndarray:
    a = np.asarray(img).astype(np.float64)
    if img.mode.startswith("I;16"):
        return (a / 65535.0).astype(np.float32)
    a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = float(a.min()), float(a.max())
    if img.mode == "I" and lo >= 0 and hi <= 65535:
        return (a / 65535.0).astype(np.float32)
    if img.mode == "F" and lo >= 0 and hi <= 1:
        return a.astype(np.float32)
    if hi == lo:
        return np.zeros_like(a, dtype=np.float32)
    return ((a - lo) / (hi - lo)).astype(np.float32)


def _to_rgb8(img: Image.Image) -> Image.Image:
    """Any 8-bit-per-channel mode -> RGB, transparency composited over BACKGROUND."""
    try:
        if img.mode == "P":
            img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        elif img.mode in ("LA", "La", "PA", "RGBa", "RGBA"):
            img = img.convert("RGBA")
        if img.mode == "RGBA":
            background = Image.new("RGBA", img.size, BACKGROUND + (255,))
            return Image.alpha_composite(background, img).convert("RGB")
        return img if img.mode == "RGB" else img.convert("RGB")
    except (ValueError, OSError) as e:
        raise ImageError("error.image.mode", mode=img.mode) from e


# ------------------------------------------------------------------------------------ tensor helpers

def resize_to(img: torch.Tensor, size) -> torch.Tensor:
    """Resize [C, H, W] or [B, C, H, W] to `size` (int for a square, or (H, W)); bilinear, antialiased."""
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if h < 1 or w < 1:
        raise ValueError(f"size must be positive, got {size}")
    if tuple(img.shape[-2:]) == (h, w):
        return img
    batch = img.unsqueeze(0) if img.dim() == 3 else img
    out = F.interpolate(batch.float(), size=(h, w), mode="bilinear", align_corners=False, antialias=True)
    out = out.clamp(0, 1)
    return out[0] if img.dim() == 3 else out


def fit_within(img: torch.Tensor, max_side: int) -> torch.Tensor:
    """Downscale so that neither side exceeds `max_side`, keeping the aspect ratio; smaller images pass."""
    h, w = img.shape[-2:]
    if max(h, w) <= max_side:
        return img
    scale = max_side / max(h, w)
    return resize_to(img, (max(1, round(h * scale)), max(1, round(w * scale))))


# ------------------------------------------------------------------------------------------- samples

def _white_square() -> torch.Tensor:
    """The seed demo: 100 x 100 black, white 20 x 20 square at rows/cols 40..59."""
    img = torch.zeros(3, 100, 100)
    img[:, 40:60, 40:60] = 1.0
    return img


def _checkerboard(size: int = 128, cell: int = 16) -> torch.Tensor:
    y, x = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    board = ((y // cell + x // cell) % 2).float()
    return board.expand(3, -1, -1).clone()


def _stripes(size: int = 128, period: int = 12) -> torch.Tensor:
    """Diagonal sine stripes: a single frequency, handy for aliasing under strided pooling."""
    y, x = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    wave = 0.5 + 0.5 * torch.sin(2 * math.pi * (x + y) / (period * math.sqrt(2)))
    return torch.stack([wave, 0.3 + 0.4 * wave, 1.0 - wave])


def _gradient_disc(size: int = 128) -> torch.Tensor:
    t = torch.linspace(0, 1, size)
    img = torch.stack([t.expand(size, -1), t.flip(0).unsqueeze(1).expand(-1, size) * 0.6,
                       torch.full((size, size), 0.35)])
    y, x = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    disc = ((x - size * 0.62) ** 2 + (y - size * 0.4) ** 2 <= (size * 0.18) ** 2)
    img[:, disc] = torch.tensor([1.0, 0.9, 0.1]).unsqueeze(1)
    return img


def _shapes_scene() -> torch.Tensor:
    size = 128
    img = torch.empty(3, size, size)
    img[:] = torch.tensor([0.12, 0.14, 0.2]).view(3, 1, 1)
    placements = [("circle", 30, (0.9, 0.3, 0.2), 10, 12), ("star", 34, (1.0, 0.85, 0.2), 76, 8),
                  ("triangle", 32, (0.3, 0.8, 0.4), 14, 78), ("heart", 30, (0.9, 0.4, 0.7), 82, 80),
                  ("square", 22, (0.4, 0.6, 1.0), 52, 50)]
    for name, side, color, x, y in placements:
        img = shapes.composite(img, shapes.make_sprite(name, side, 0.0, color), [x], [y])[0]
    return img


def _one_star() -> torch.Tensor:
    """A training-like 64x64 image: one star on a dark noisy gradient, as the embedded models saw in training."""
    bg = shapes.random_background(np.random.default_rng(7), shapes.CANVAS)
    return shapes.composite(bg, shapes.make_sprite("star", 22, 0.0, (1.0, 0.82, 0.12)), [30], [12])[0]


def _two_shapes() -> torch.Tensor:
    """A star and a cross on a training-like background: both embedded models split their answer between the two
    (about 40 / 60 %), so a class-specific explanation must move from one object to the other with the class."""
    img = shapes.random_background(np.random.default_rng(3), shapes.CANVAS)
    img = shapes.composite(img, shapes.make_sprite("star", 20, 0.0, (1.0, 0.82, 0.12)), [5], [6])[0]
    return shapes.composite(img, shapes.make_sprite("cross", 20, 0.0, (0.95, 0.95, 0.95)), [37], [36])[0]


_PHOTOS = {"cat": "chelsea", "astronaut": "astronaut", "coffee": "coffee"}
_SCENES = {"white square": _white_square, "checkerboard": _checkerboard, "stripes": _stripes,
           "gradient + disc": _gradient_disc, "shapes": _shapes_scene, "one star (64×64)": _one_star, "star and cross (64×64)": _two_shapes}
SEVERAL_OBJECTS = frozenset({"shapes", "star and cross (64×64)"})  # scenes where one object can distract from another


def _photos_available() -> bool:
    return skimage is not None


def sample_names() -> list[str]:
    """Built-in images: procedural scenes, then natural photos bundled with scikit-image."""
    names = list(_SCENES)
    if _photos_available():
        names += list(_PHOTOS)
    return names


@functools.lru_cache(maxsize=16)
def _sample_cached(name: str) -> torch.Tensor:
    if name in _SCENES:
        return _SCENES[name]().float().contiguous()
    rgb = getattr(skimage.data, _PHOTOS[name])()  # bundled with scikit-image: works offline
    return torch.from_numpy(np.ascontiguousarray(rgb[..., :3])).permute(2, 0, 1).float().div(255.0)


def load_sample(name: str) -> torch.Tensor:
    """A built-in image by name (see `sample_names()`), as a fresh [3, H, W] tensor in [0, 1]."""
    if name not in sample_names():
        raise ImageError("error.image.unknown_sample", name=name, choices=", ".join(sample_names()))
    try:
        return _sample_cached(name).clone()
    except ImageError:
        raise
    except Exception as e:
        raise ImageError("error.image.sample_failed", name=name, detail=f"{type(e).__name__}: {e}") from e
