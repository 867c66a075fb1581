"""core.pictures: the one place that turns tensors into pictures, against hand-computed cases."""
import numpy as np
import torch

from core import pictures as pic


def test_to_uint8_takes_channel_first_tensors_and_channel_last_arrays():
    t = torch.tensor([[[0.0, 1.0]], [[0.5, 2.0]], [[float("nan"), -1.0]]])  # [3, 1, 2]
    assert pic.to_uint8(t).tolist() == [[[0, 128, 0], [255, 255, 0]]]
    a = np.array([[[0.0, 0.5, 1.0], [2.0, -1.0, np.nan]]])  # [1, 2, 3]
    assert pic.to_uint8(a).tolist() == [[[0, 128, 255], [255, 0, 0]]]


def test_upscale_repeats_each_pixel_into_a_block():
    rgb = np.arange(12, dtype=np.uint8).reshape(2, 2, 3)
    big = pic.upscale(rgb, 3)
    assert big.shape == (6, 6, 3) and (big[3:6, 0:3] == rgb[1, 0]).all() and (big[0:3, 3:6] == rgb[0, 1]).all()
    assert pic.upscale(rgb, 1) is rgb


def test_colormap_ends_and_middle():
    c = pic.colormap(torch.tensor([0.0, 1.0, -5.0, 5.0]))
    assert torch.allclose(c[0], pic._STOPS[0]) and torch.allclose(c[1], pic._STOPS[-1])
    assert torch.allclose(c[2], pic._STOPS[0]) and torch.allclose(c[3], pic._STOPS[-1])  # clipped
    # 1/3 lies exactly on the second stop of four
    assert torch.allclose(pic.colormap(torch.tensor(1 / 3)), pic._STOPS[1], atol=1e-6)


def test_tile_grid_places_tiles_row_by_row_with_gaps():
    tiles = torch.stack([torch.full((2, 2, 3), float(k)) for k in range(3)])
    out = pic.tile_grid(tiles, cols=2, gap=1, fill=9.0)
    assert out.shape == (5, 5, 3)
    assert (out[0:2, 0:2] == 0).all() and (out[0:2, 3:5] == 1).all() and (out[3:5, 0:2] == 2).all()
    assert (out[2] == 9).all() and (out[:, 2] == 9).all() and (out[3:5, 3:5] == 9).all()  # gaps and the empty slot


def test_denormalize_undoes_a_normalisation():
    x = torch.rand(2, 3, 4, 4)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    z = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    assert torch.allclose(pic.denormalize(z, mean, std), x, atol=1e-6)


def test_grey_rgb_is_black_at_zero_white_at_vmax_and_saturates():
    from core.pictures import grey_rgb

    out = grey_rgb(np.array([[0.0, 1.0, 2.0, 4.0]]), vmax=2.0)
    assert out.shape == (1, 4, 3) and out.dtype == np.uint8
    assert out[0, :, 0].tolist() == [0, 128, 255, 255]  # 1/2 of 255 = 127.5 rounds to 128
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    assert grey_rgb(np.ones((2, 2)), vmax=0.0).max() == 0  # nothing to scale by: all black, no division by zero


def test_one_cjk_font_finder_and_labels_beside_the_picture_without_one(monkeypatch, caplog):
    """The font is found in one place; where none exists the log says so once and the Chinese labels are not drawn
    into the picture (Pillow's own font would draw empty boxes): the page writes them beside it."""
    import logging

    import numpy as np
    from PIL import ImageFont

    from core import pictures
    from ui import attention_views as av

    found = pictures.cjk_font_path()
    if found is not None:  # the font it found has Chinese glyphs: 注 is not the missing-glyph box of Pillow's own font
        font = ImageFont.truetype(found, 24)
        assert font.getmask("注").getbbox() != ImageFont.load_default(size=24).getmask("注").getbbox()
    relative = np.zeros((2, 2, 2, 2), dtype=np.float32)
    monkeypatch.setattr(pictures, "CJK_FONTS", ())
    monkeypatch.setattr(pictures.shutil, "which", lambda name: None)
    pictures.cjk_font_path.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="core.pictures"):
            assert pictures.cjk_font_path() is None and pictures.cjk_font_path() is None
        assert len([r for r in caplog.records if "Chinese glyphs" in r.getMessage()]) == 1  # once
        assert not av.labels_drawable("zh") and av.labels_drawable("en")
        chinese = av.heads_image(relative, tile=72, lang="zh")
        assert (chinese[:30] == 255).all() and (chinese[:, :80] == 255).all()  # no label drawn: margins stay white
        english = av.heads_image(relative, tile=72, lang="en")
        assert not (english[:30] == 255).all()
    finally:
        pictures.cjk_font_path.cache_clear()
