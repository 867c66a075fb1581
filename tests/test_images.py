"""core.images: every input format and colour mode, checked against pixel values known by construction,
and every kind of bad input rejected with a readable ImageError."""
from __future__ import annotations

import io
import struct
import tomllib
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from core import images, pictures
from core.images import ImageError, load_image

ROOT = Path(__file__).resolve().parents[1]
EPS8 = 1 / 255 + 1e-6  # one 8-bit step


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def handmade_png(width: int, height: int, bit_depth: int, color_type: int, raw_rows: bytes | None) -> bytes:
    """A PNG written byte by byte (PNG spec): signature, IHDR, IDAT (zlib of filter-0 rows), IEND."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    idat = zlib.compress(raw_rows if raw_rows is not None else b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def assert_image(t: torch.Tensor, h: int, w: int) -> None:
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    assert tuple(t.shape) == (3, h, w)
    assert torch.isfinite(t).all() and t.min() >= 0 and t.max() <= 1


def rgb_at(t: torch.Tensor, row: int, col: int) -> list[float]:
    return t[:, row, col].tolist()


def two_colour(w=16, h=12, left=(255, 0, 0), right=(0, 0, 255)) -> Image.Image:
    im = Image.new("RGB", (w, h), right)
    im.paste(left, (0, 0, w // 2, h))
    return im


# ------------------------------------------------------------------------------------- good formats

@pytest.mark.parametrize("fmt, kw", [("PNG", {}), ("BMP", {}), ("TIFF", {}), ("WEBP", {"lossless": True}),
                                     ("GIF", {})])
def test_lossless_formats_keep_exact_colours(fmt, kw):
    t = load_image(encode(two_colour(), fmt, **kw))
    assert_image(t, 12, 16)
    assert rgb_at(t, 5, 2) == [1.0, 0.0, 0.0]
    assert rgb_at(t, 5, 13) == [0.0, 0.0, 1.0]


@pytest.mark.parametrize("fmt, kw", [("JPEG", {"quality": 95}), ("WEBP", {"quality": 90})])
def test_lossy_formats_keep_colours_approximately(fmt, kw):
    t = load_image(encode(two_colour(32, 32), fmt, **kw))
    assert_image(t, 32, 32)
    assert np.allclose(rgb_at(t, 16, 3), [1, 0, 0], atol=0.06)
    assert np.allclose(rgb_at(t, 16, 28), [0, 0, 1], atol=0.06)


def test_grayscale_L_and_1_bit():
    im = Image.new("L", (10, 9), 100)
    im.putpixel((3, 4), 255)
    t = load_image(encode(im, "PNG"))
    assert_image(t, 9, 10)
    assert rgb_at(t, 0, 0) == pytest.approx([100 / 255] * 3)
    assert rgb_at(t, 4, 3) == [1.0, 1.0, 1.0]
    bw = Image.new("1", (9, 9), 0)
    bw.putpixel((1, 2), 1)
    t = load_image(encode(bw, "PNG"))
    assert rgb_at(t, 2, 1) == [1.0] * 3 and rgb_at(t, 0, 0) == [0.0] * 3


def test_grayscale_with_alpha_is_composited_over_white():
    im = Image.new("LA", (9, 9), (40, 255))
    im.putpixel((0, 0), (40, 0))  # fully transparent: background shows
    im.putpixel((1, 0), (0, 102))  # black at alpha 0.4 over white: 0.6
    t = load_image(encode(im, "PNG"))
    assert rgb_at(t, 0, 0) == [1.0] * 3
    assert rgb_at(t, 0, 1) == pytest.approx([1 - 102 / 255] * 3, abs=EPS8)
    assert rgb_at(t, 5, 5) == pytest.approx([40 / 255] * 3)


def test_16_bit_grayscale_png_uses_the_full_range():
    a = np.zeros((8, 9), np.uint16)
    a[0, :3] = [0, 32768, 65535]
    a[1, 0] = 255  # would be 1.0 if the data were wrongly read as 8-bit
    t = load_image(encode(Image.fromarray(a), "PNG"))
    assert_image(t, 8, 9)
    assert t[0, 0, 2].item() == 1.0
    assert t[0, 0, 1].item() == pytest.approx(0.5, abs=1e-4)
    assert t[0, 0, 0].item() == 0.0
    assert t[0, 1, 0].item() == pytest.approx(255 / 65535)


def test_16_bit_rgb_png_written_by_hand():
    # colour type 2, bit depth 16: each pixel is R, G, B as big-endian uint16
    w, h = 8, 8
    row = b"\x00" + struct.pack(">HHH", 65535, 0, 32768) * w
    t = load_image(handmade_png(w, h, 16, 2, row * h))
    assert_image(t, h, w)
    assert rgb_at(t, 3, 3) == pytest.approx([1.0, 0.0, 0.5], abs=EPS8)


def test_32_bit_integer_and_float_images():
    a = np.full((8, 8), 65535, np.int32)
    a[0, 0] = 0
    t = load_image(encode(Image.fromarray(a, "I"), "TIFF"))
    assert t[:, 1, 1].tolist() == [1.0] * 3 and t[:, 0, 0].tolist() == [0.0] * 3

    f = np.full((8, 8), 0.25, np.float32)
    t = load_image(encode(Image.fromarray(f, "F"), "TIFF"))
    assert t[0, 2, 2].item() == pytest.approx(0.25)  # already in [0, 1]: kept

    f = np.linspace(-3.0, 5.0, 64, dtype=np.float32).reshape(8, 8)
    t = load_image(encode(Image.fromarray(f, "F"), "TIFF"))  # outside [0, 1]: stretched min..max
    assert t[0, 0, 0].item() == pytest.approx(0.0) and t[0, 7, 7].item() == pytest.approx(1.0)
    assert t[0, 4, 0].item() == pytest.approx((f[4, 0] + 3) / 8, abs=1e-6)


def test_palette_images_with_and_without_transparency():
    im = Image.new("P", (10, 10), 0)
    im.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 0] + [0] * (256 * 3 - 9))
    im.putpixel((5, 5), 1)
    im.putpixel((6, 6), 2)
    t = load_image(encode(im, "PNG"))
    assert rgb_at(t, 0, 0) == [1.0, 0.0, 0.0]
    assert rgb_at(t, 5, 5) == [0.0, 1.0, 0.0]
    assert rgb_at(t, 6, 6) == [0.0, 0.0, 0.0]

    t = load_image(encode(im, "PNG", transparency=2))  # index 2 (black) is transparent -> white
    assert rgb_at(t, 6, 6) == [1.0, 1.0, 1.0]
    assert rgb_at(t, 5, 5) == [0.0, 1.0, 0.0]
    assert rgb_at(t, 0, 0) == [1.0, 0.0, 0.0]


def test_rgba_is_composited_over_white():
    assert images.BACKGROUND == (255, 255, 255)
    im = Image.new("RGBA", (9, 9), (0, 0, 255, 255))
    im.putpixel((0, 0), (255, 0, 0, 128))  # half-transparent red
    im.putpixel((1, 0), (0, 0, 0, 0))  # fully transparent black
    t = load_image(encode(im, "PNG"))
    a = 128 / 255
    assert rgb_at(t, 0, 0) == pytest.approx([1.0, 1 - a, 1 - a], abs=EPS8)  # a*red + (1-a)*white
    assert rgb_at(t, 0, 1) == [1.0, 1.0, 1.0]
    assert rgb_at(t, 4, 4) == [0.0, 0.0, 1.0]


def test_cmyk_jpeg():
    white = load_image(encode(Image.new("CMYK", (16, 16), (0, 0, 0, 0)), "JPEG", quality=95))
    assert_image(white, 16, 16)
    assert np.allclose(white.numpy(), 1.0, atol=0.02)
    black = load_image(encode(Image.new("CMYK", (16, 16), (0, 0, 0, 255)), "JPEG", quality=95))
    assert np.allclose(black.numpy(), 0.0, atol=0.02)
    red = load_image(encode(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG", quality=95))
    assert np.allclose(rgb_at(red, 8, 8), [1, 0, 0], atol=0.03)


def marked_image(w=16, h=8) -> Image.Image:
    """Blue, with one red pixel in the stored top-left corner."""
    im = Image.new("RGB", (w, h), (0, 0, 255))
    im.putpixel((0, 0), (255, 0, 0))
    return im


# EXIF orientation (TIFF/EXIF spec): where the stored top-left pixel must appear, for a stored W=16, H=8 image.
@pytest.mark.parametrize("orientation, shape, where", [
    (1, (8, 16), (0, 0)),
    (3, (8, 16), (7, 15)),  # rotated 180: bottom-right
    (6, (16, 8), (0, 7)),  # display = stored rotated 90 clockwise: top-right
    (8, (16, 8), (15, 0)),  # rotated 90 counter-clockwise: bottom-left
    (2, (8, 16), (0, 15)),  # mirrored left-right
])
def test_exif_orientation_is_applied(orientation, shape, where):
    exif = Image.Exif()
    exif[0x0112] = orientation
    t = load_image(encode(marked_image(), "PNG", exif=exif))
    assert tuple(t.shape[1:]) == shape
    red = (t[0] == 1) & (t[2] == 0)
    assert red.sum().item() == 1
    assert tuple(red.nonzero()[0].tolist()) == where


def test_exif_orientation_6_on_a_jpeg():
    im = Image.new("RGB", (32, 16), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 8, 8))  # red block in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6
    t = load_image(encode(im, "JPEG", quality=95, exif=exif))
    assert tuple(t.shape) == (3, 32, 16)
    assert np.allclose(rgb_at(t, 3, 12), [1, 0, 0], atol=0.1)  # now top-right
    assert np.allclose(rgb_at(t, 3, 3), [0, 0, 1], atol=0.1)
    d = images.decode_image(encode(im, "JPEG", exif=exif))
    assert d.original_size == (16, 32)


def test_gif_first_frame_is_chosen():
    frames = [Image.new("RGB", (12, 12), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    t = load_image(data)
    assert_image(t, 12, 12)
    assert rgb_at(t, 6, 6) == [1.0, 0.0, 0.0]


def test_paths_are_accepted(tmp_path):
    p = tmp_path / "red.png"
    p.write_bytes(encode(two_colour(), "PNG"))
    for src in (p, str(p)):
        assert rgb_at(load_image(src), 0, 0) == [1.0, 0.0, 0.0]


def test_extension_does_not_matter(tmp_path):
    p = tmp_path / "actually_a_png.jpg"
    p.write_bytes(encode(two_colour(), "PNG"))
    assert rgb_at(load_image(p), 0, 0) == [1.0, 0.0, 0.0]


# --------------------------------------------------------------------------------------- bad inputs

def reject(data, *words: str) -> str:
    with pytest.raises(ImageError) as info:
        load_image(data)
    msg = str(info.value)
    assert len(msg) > 10 and msg[0].isupper() and "Traceback" not in msg
    for word in words:
        assert word.lower() in msg.lower(), msg
    return msg


def test_image_error_is_a_value_error():
    assert issubclass(ImageError, ValueError)


def test_empty_input():
    reject(b"", "empty")
    reject(bytearray(), "empty")


def test_random_bytes():
    reject(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes(), "not an image")


def test_text_file(tmp_path):
    p = tmp_path / "notes.png"
    p.write_text("This is a text file pretending to be a picture.\n" * 20)
    reject(p, "not an image")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_files(fmt):
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    rng = np.random.default_rng(1)
    noisy = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    data = encode(noisy, fmt)
    load_image(data)  # the whole file is fine
    reject(data[: len(data) // 2], "damaged")


def test_header_claiming_100000_squared_pixels_is_refused_before_decoding():
    data = handmade_png(100_000, 100_000, 8, 2, None)
    assert len(data) < 200
    reject(data, "megapixels")


def test_header_just_over_our_pixel_limit():
    # 48 megapixels: below Pillow's own bomb threshold (~89 MP), above ours (40 MP)
    data = handmade_png(8000, 6000, 8, 2, None)
    msg = reject(data, "8000 x 6000", "megapixels")
    assert "40" in msg


def test_pillow_bomb_warning_and_error_become_image_errors(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # restored by monkeypatch after the test
    filters_before = list(warnings.filters)
    reject(encode(Image.new("RGB", (12, 12)), "PNG"), "too large")  # 144 px: Pillow warns
    reject(encode(Image.new("RGB", (20, 20)), "PNG"), "too large")  # 400 px > 2x: Pillow raises
    assert warnings.filters == filters_before


def test_pillow_globals_untouched():
    before = Image.MAX_IMAGE_PIXELS
    load_image(encode(two_colour(), "PNG"))
    with pytest.raises(ImageError):
        load_image(handmade_png(100_000, 100_000, 8, 2, None))
    assert Image.MAX_IMAGE_PIXELS == before
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize("size", [(4, 4), (7, 100), (100, 7)])
def test_too_small(size):
    reject(encode(Image.new("RGB", size), "PNG"), "too small", str(images.MIN_SIDE))


def test_smallest_allowed_size():
    assert_image(load_image(encode(Image.new("RGB", (8, 8)), "PNG")), 8, 8)


def test_missing_path(tmp_path):
    reject(tmp_path / "nope.png", "no such file")
    reject(str(tmp_path / "nope.png"), "no such file")
    reject(tmp_path, "no such file")  # a directory is not a file


def test_byte_limit_matches_streamlit_config_and_is_enforced(tmp_path):
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert images.MAX_BYTES == config["server"]["maxUploadSize"] * 1024 * 1024  # Streamlit's MB
    big = encode(two_colour(), "PNG") + b"\x00" * images.MAX_BYTES  # valid image, too many bytes
    reject(big, "limit", "MB")
    p = tmp_path / "big.png"
    p.write_bytes(big)
    reject(p, "limit", "MB")


def test_wrong_type():
    reject(12345, "expected")


# ------------------------------------------------------------------------------------------ helpers

def test_to_uint8():
    t = torch.tensor([0.0, 0.5, 1.0, 1.7, -0.2, 0.2]).view(3, 1, 2)
    out = pictures.to_uint8(t)
    assert out.dtype == np.uint8 and out.shape == (1, 2, 3)
    assert out[0, 0].tolist() == [0, 255, 0]  # channels 0, 1, 2 at pixel (0, 0): 0.0, 1.0, -0.2
    assert out[0, 1].tolist() == [128, 255, 51]  # 0.5 -> 127.5 rounds to 128; 1.7 clips; 0.2 -> 51


def test_resize_to_and_fit_within():
    flat = torch.full((3, 40, 60), 0.3)
    assert torch.allclose(images.resize_to(flat, (10, 15)), torch.full((3, 10, 15), 0.3))
    assert tuple(images.resize_to(flat, 8).shape) == (3, 8, 8)
    assert tuple(images.resize_to(flat.unsqueeze(0), (4, 5)).shape) == (1, 3, 4, 5)
    # antialiasing: 1-pixel stripes halved average to grey instead of aliasing to one of the colours
    stripes = torch.zeros(3, 32, 32)
    stripes[:, :, ::2] = 1.0
    half = images.resize_to(stripes, (32, 16))
    assert torch.allclose(half[:, :, 2:-2], torch.full_like(half[:, :, 2:-2], 0.5), atol=1e-5)
    assert tuple(images.fit_within(torch.zeros(3, 500, 1000), 512).shape) == (3, 256, 512)
    assert tuple(images.fit_within(torch.zeros(3, 1000, 300), 100).shape) == (3, 100, 30)
    small = torch.zeros(3, 20, 30)
    assert images.fit_within(small, 512) is small


def test_decode_image_downscales_large_images():
    big = two_colour(1200, 600)
    for fmt in ("PNG", "JPEG"):
        d = images.decode_image(encode(big, fmt), max_side=512)
        assert d.original_size == (1200, 600) and d.downscaled and d.format == fmt
        assert_image(d.image, 256, 512)
        assert np.allclose(rgb_at(d.image, 128, 50), [1, 0, 0], atol=0.05)
        assert np.allclose(rgb_at(d.image, 128, 460), [0, 0, 1], atol=0.05)
    d = images.decode_image(encode(two_colour(), "PNG"), max_side=512)
    assert not d.downscaled and d.original_size == (16, 12)


# ------------------------------------------------------------------------------------------ samples

def test_white_square_matches_its_definition():
    t = images.load_sample("white square")
    expected = np.zeros((3, 100, 100), np.float32)
    for r in range(100):
        for c in range(100):
            if 40 <= r <= 59 and 40 <= c <= 59:
                expected[:, r, c] = 1.0
    assert t.dtype == torch.float32
    assert np.array_equal(t.numpy(), expected)


def test_every_sample_is_a_valid_image():
    names = images.sample_names()
    assert names[0] == "white square"
    assert {"checkerboard", "stripes", "gradient + disc", "cat", "astronaut", "coffee"} <= set(names)
    for name in names:
        t = images.load_sample(name)
        assert t.dim() == 3 and t.shape[0] == 3 and min(t.shape[1:]) >= images.MIN_SIDE
        assert_image(t, *t.shape[1:])


def test_photos_are_scikit_image_data():
    import skimage.data

    for name, fn, shape in [("cat", skimage.data.chelsea, (300, 451)), ("astronaut", skimage.data.astronaut, (512, 512)),
                            ("coffee", skimage.data.coffee, (400, 600))]:
        t = images.load_sample(name)
        assert tuple(t.shape) == (3, *shape)
        assert np.array_equal(pictures.to_uint8(t), fn()[..., :3])


def test_checkerboard_alternates():
    t = images.load_sample("checkerboard")
    corners = {(r, c): t[0, r, c].item() for r in (0, 16) for c in (0, 16)}
    assert corners[(0, 0)] == corners[(16, 16)] != corners[(0, 16)] == corners[(16, 0)]


def test_shapes_sample_when_core_shapes_exists():
    pytest.importorskip("core.shapes")
    t = images.load_sample("shapes")
    assert "shapes" in images.sample_names()
    assert len(torch.unique(t.reshape(3, -1), dim=1).T) > 5  # background plus several coloured objects


def test_samples_are_fresh_copies():
    a = images.load_sample("white square")
    a.zero_()
    assert images.load_sample("white square").max().item() == 1.0


def test_unknown_sample():
    with pytest.raises(ImageError, match="Unknown sample"):
        images.load_sample("no such sample")


def test_core_images_does_not_import_streamlit():
    src = (ROOT / "core" / "images.py").read_text()
    assert "import streamlit" not in src and "from streamlit" not in src


# ---------------------------------------------------------------------------------- ui.images (AppTest)

def picker_app():
    import streamlit as st

    from core.pictures import to_uint8
    from ui.images import image_picker

    img = image_picker("img", default="white square")
    if img is not None:
        st.image(to_uint8(img), caption="picked")
        st.write(f"shape={tuple(img.shape)} max={img.max().item():.3f}")
    else:
        st.write("none")


def upload_app():
    from unittest import mock

    import streamlit as st

    from ui.images import image_picker

    class FakeUpload:
        name = "upload.png"

        def getvalue(self):
            return st.session_state["payload"]

    with mock.patch.object(st, "file_uploader", lambda *a, **k: FakeUpload()):
        img = image_picker("img")
    st.write("none" if img is None else f"shape={tuple(img.shape)}")


def _markdown(at) -> list[str]:
    return [m.value for m in at.markdown]


def test_image_picker_default_sample_and_switching():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(picker_app).run(timeout=30)
    assert not at.exception
    assert "shape=(3, 100, 100) max=1.000" in _markdown(at)
    assert at.query_params["img"] in ("white square", ["white square"])  # bookmarkable
    at.selectbox(key="img").select("astronaut").run(timeout=30)
    assert not at.exception and "shape=(3, 512, 512) max=1.000" in _markdown(at)
    at.selectbox(key="img").select("coffee").run(timeout=30)
    assert "shape=(3, 341, 512) max=1.000" in _markdown(at)  # 400x600 fitted within 512
    assert any("Downscaled from 600×400" in c.value for c in at.caption)
    at.selectbox(key="img").select("upload").run(timeout=30)
    assert not at.exception and "none" in _markdown(at) and not at.error


def test_image_picker_shows_an_error_for_a_bad_upload_and_accepts_a_good_one():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(upload_app)
    at.session_state["payload"] = b"definitely not an image"
    at.query_params["img"] = "upload"
    at.run(timeout=30)
    assert not at.exception
    assert "none" in _markdown(at)
    assert len(at.error) == 1 and "not an image" in at.error[0].value
    at.session_state["payload"] = encode(two_colour(1024, 256), "PNG")
    at.run(timeout=30)
    assert not at.exception and not at.error
    assert "shape=(3, 128, 512)" in _markdown(at)
    assert any("Downscaled from 1024×256" in c.value for c in at.caption)
