"""Fuzz core.images.load_image with malformed and hostile inputs.

The contract: every input is either accepted (a finite float tensor [3, H, W] in [0, 1]) or rejected
with ImageError. Any other exception is a bug: it would reach the user as a traceback.
"""
from __future__ import annotations

import io
import struct
import time
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from core.images import MAX_PIXELS, ImageError, load_image

SEED = 20240611
# Pillow warns (UserWarning) about the corrupt metadata it skips; that is expected here.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def real_images() -> dict[str, bytes]:
    """One small, valid file of every format and mode load_image supports."""
    rng = np.random.default_rng(SEED)
    rgb = Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    rgba = Image.fromarray(rng.integers(0, 256, (24, 32, 4), dtype=np.uint8), "RGBA")
    gray16 = Image.fromarray(rng.integers(0, 65536, (24, 32), dtype=np.uint16))
    exif = Image.Exif()
    exif[0x0112] = 6
    frames = [Image.new("RGB", (20, 20), c) for c in ((255, 0, 0), (0, 255, 0))]
    return {
        "png": encode(rgb, "PNG"),
        "png-rgba": encode(rgba, "PNG"),
        "png-palette-transparent": encode(rgb.convert("P"), "PNG", transparency=3),
        "png-16bit": encode(gray16, "PNG"),
        "png-gray-alpha": encode(rgba.convert("LA"), "PNG"),
        "jpeg": encode(rgb, "JPEG", quality=80),
        "jpeg-exif": encode(rgb, "JPEG", exif=exif),
        "jpeg-progressive": encode(rgb, "JPEG", progressive=True),
        "jpeg-cmyk": encode(rgb.convert("CMYK"), "JPEG"),
        "webp": encode(rgb, "WEBP", quality=70),
        "webp-lossless": encode(rgba, "WEBP", lossless=True),
        "bmp": encode(rgb, "BMP"),
        "bmp-palette": encode(rgb.convert("P"), "BMP"),
        "gif": encode(frames[0], "GIF", save_all=True, append_images=frames[1:]),
        "tiff": encode(rgb, "TIFF"),
        "tiff-lzw": encode(rgb, "TIFF", compression="tiff_lzw"),
        "tiff-float": encode(Image.fromarray(rng.normal(0, 5, (24, 32)).astype(np.float32), "F"), "TIFF"),
    }


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def bomb_headers() -> dict[str, bytes]:
    """Tiny files whose headers claim enormous images."""
    out = {}
    for w, h in [(100_000, 100_000), (2**31 - 1, 2**31 - 1), (7000, 7000), (65535, 1), (1, 65535 * 700)]:
        ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
        out[f"png-{w}x{h}"] = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
                               + png_chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + png_chunk(b"IEND", b""))
    for w, h in [(65535, 65535), (8000, 8000)]:
        # logical screen, global colour table of 2 entries, image descriptor covering the screen, LZW data
        gif = (b"GIF89a" + struct.pack("<HHBBB", w, h, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
               + b"\x2c" + struct.pack("<HHHHB", 0, 0, w, h, 0) + b"\x02\x02\x44\x01\x00\x3b")
        out[f"gif-{w}x{h}"] = gif
    for w, h in [(100_000, 100_000), (50_000, -50_000), (7000, 7000), (2**31 - 1, 1)]:
        info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, 0, 2835, 2835, 0, 0)
        pixels = b"\x00" * 64
        out[f"bmp-{w}x{h}"] = b"BM" + struct.pack("<IHHI", 14 + 40 + len(pixels), 0, 0, 54) + info + pixels
    return out


def wrong_magic(real: dict[str, bytes], rng: np.random.Generator) -> dict[str, bytes]:
    junk = rng.bytes(400)
    return {
        "png-magic-jpeg-body": b"\x89PNG\r\n\x1a\n" + real["jpeg"][2:],
        "jpeg-magic-png-body": b"\xff\xd8\xff\xe0" + real["png"][8:],
        "png-magic-junk": b"\x89PNG\r\n\x1a\n" + junk,
        "jpeg-magic-junk": b"\xff\xd8\xff\xdb" + junk,
        "gif-magic-junk": b"GIF89a" + junk,
        "bmp-magic-junk": b"BM" + junk,
        "webp-magic-junk": b"RIFF" + struct.pack("<I", 404) + b"WEBPVP8 " + junk,
        "tiff-magic-junk": b"II*\x00" + junk,
        "tiff-be-magic-junk": b"MM\x00*" + junk,
        "png-magic-only": b"\x89PNG\r\n\x1a\n",
        "jpeg-soi-eoi": b"\xff\xd8\xff\xd9",
        "text": b"hello, this is not an image\n" * 10,
        "html": b"<!doctype html><html><body><img src=x></body></html>",
        "svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>',
        "pdf": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n",
        "zip": b"PK\x03\x04" + junk,
        "ico": b"\x00\x00\x01\x00\x01\x00\x10\x10" + junk,  # a real format Pillow knows, but not allowed here
        "psd": b"8BPS\x00\x01" + junk,
        "nul": b"\x00" * 1000,
        "png-twice": real["png"] + real["png"],
        "jpeg-then-junk": real["jpeg"] + junk,
    }


def truncated(real: dict[str, bytes], rng: np.random.Generator, per_file: int) -> dict[str, bytes]:
    out = {}
    for name, data in real.items():
        for cut in rng.integers(1, len(data) - 1, per_file):
            out[f"{name}-cut{cut}"] = data[:cut]
    return out


def bit_flipped(real: dict[str, bytes], rng: np.random.Generator, per_file: int) -> dict[str, bytes]:
    out = {}
    for name, data in real.items():
        for k in range(per_file):
            buf = bytearray(data)
            for pos in rng.integers(0, len(buf), int(rng.integers(1, 24))):
                buf[pos] ^= 1 << int(rng.integers(8))
            out[f"{name}-flip{k}"] = bytes(buf)
    return out


def random_bytes(rng: np.random.Generator, n: int) -> dict[str, bytes]:
    return {f"random{i}": rng.bytes(int(rng.integers(0, 4000))) for i in range(n)}


def all_cases() -> dict[str, bytes]:
    rng = np.random.default_rng(SEED)
    real = real_images()
    cases = {}
    cases.update(random_bytes(rng, 30))
    cases.update(truncated(real, rng, 6))
    cases.update(bit_flipped(real, rng, 6))
    cases.update(bomb_headers())
    cases.update(wrong_magic(real, rng))
    return cases


def test_real_images_all_load():
    """The seeds of the fuzzer are valid: otherwise truncating them proves little."""
    for name, data in real_images().items():
        t = load_image(data)
        assert t.shape[0] == 3 and min(t.shape[1:]) >= 20, name


def test_fuzz_accepts_or_rejects_cleanly():
    cases = all_cases()
    assert len(cases) >= 200
    start = time.perf_counter()
    other_errors, bad_outputs, outcomes = [], [], {"accepted": 0, "rejected": 0}
    for name, data in cases.items():
        try:
            t = load_image(data)
        except ImageError as e:
            outcomes["rejected"] += 1
            if not str(e).strip():
                bad_outputs.append(f"{name}: empty error message")
            continue
        except Exception as e:  # noqa: BLE001 - this is exactly what the test hunts for
            other_errors.append(f"{name}: {type(e).__name__}: {e}")
            continue
        outcomes["accepted"] += 1
        ok = (isinstance(t, torch.Tensor) and t.dtype == torch.float32 and t.dim() == 3 and t.shape[0] == 3
              and t.shape[1] * t.shape[2] <= MAX_PIXELS and bool(torch.isfinite(t).all())
              and t.min().item() >= 0 and t.max().item() <= 1)
        if not ok:
            bad_outputs.append(f"{name}: {getattr(t, 'shape', type(t))}")
    elapsed = time.perf_counter() - start
    assert not other_errors, "\n".join(other_errors)
    assert not bad_outputs, "\n".join(bad_outputs)
    # both branches are exercised: the fuzzer is neither all-garbage nor all-harmless
    assert outcomes["accepted"] > 0 and outcomes["rejected"] > 100, outcomes
    assert elapsed < 60, f"fuzzing took {elapsed:.1f} s"


@pytest.mark.parametrize("name", sorted(bomb_headers()))
def test_bomb_headers_are_rejected(name):
    with pytest.raises(ImageError):
        load_image(bomb_headers()[name])
