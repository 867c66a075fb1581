"""core.equivariance: the two paths, where they differ, and the strided / pooled / patch chains."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import pandas as pd
from scipy import ndimage
from timm.models.vision_transformer import VisionTransformer

from core import equivariance as eq
from core import pictures as pic
from core.images import load_sample
from core.models import LoadedModel, build_embedded
from core.transforms import fractional_shift

RNG = np.random.default_rng(7)
EDGE = np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]], float)


def loop_translate(img: np.ndarray, dx: int, dy: int, circular: bool) -> np.ndarray:
    """out[y + dy, x + dx] = img[y, x], one pixel at a time."""
    h, w = img.shape[-2:]
    out = np.zeros_like(img)
    for y in range(h):
        for x in range(w):
            ty, tx = (y + dy) % h if circular else y + dy, (x + dx) % w if circular else x + dx
            if 0 <= ty < h and 0 <= tx < w:
                out[..., ty, tx] = img[..., y, x]
    return out


def demo_image():
    return load_sample("white square")


def test_demo_image_is_the_classic_square():
    img = demo_image().numpy()
    assert img.shape == (3, 100, 100)
    ys, xs = np.nonzero(img[0])
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (40, 59, 40, 59) and img.sum() == 3 * 400


def test_classic_demo_is_exactly_equivariant():
    c = eq.compare(demo_image(), EDGE, 20, 20, "zeros")
    assert c.max_err == 0.0 and c.band == 0
    assert str(eq.verdict(c, "zeros")) == "max |A - B| = 0 (equivariant)."
    # the conv output is the scipy one, and it is signed: +3 on the square's left edge, -3 on its right
    expected = ndimage.convolve(demo_image().numpy(), EDGE[None], mode="constant")
    np.testing.assert_allclose(c.conv.numpy(), expected, atol=1e-6)
    assert c.conv.max() == 3 and c.conv.min() == -3


@pytest.mark.parametrize("size", [3, 5])
def test_both_paths_equal_independent_references(size):
    img = RNG.random((3, 9, 8)).astype(np.float32)
    k = RNG.normal(size=(size, size))
    for mode, sm in (("zeros", "constant"), ("circular", "wrap")):
        c = eq.compare(torch.tensor(img), k, 3, -2, mode)
        shifted = loop_translate(img, 3, -2, mode == "circular")
        np.testing.assert_allclose(c.shift_then_conv.numpy(), ndimage.convolve(shifted, k[None], mode=sm), atol=1e-5)
        conv = ndimage.convolve(img.astype(np.float64), k[None], mode=sm)
        np.testing.assert_allclose(c.conv_then_shift.numpy(), loop_translate(conv, 3, -2, mode == "circular"),
                                   atol=1e-5)


def test_circular_conv_is_exactly_equivariant_for_every_shift():
    img = torch.rand(3, 7, 9)
    k = RNG.normal(size=(5, 5))
    for dx in range(-10, 11):
        for dy in range(-8, 9):
            c = eq.compare(img, k, dx, dy, "circular")
            assert c.max_err < 1e-5 and c.equivariant, (dx, dy, c.max_err)


def test_zeros_difference_is_confined_to_the_border_band():
    img = torch.rand(1, 24, 24)
    k = RNG.normal(size=(5, 5))
    radius = 2
    for dx, dy in [(1, 0), (0, -3), (4, 2), (-5, 5), (-2, -6)]:
        c = eq.compare(img, k, dx, dy, "zeros")
        band = radius + max(abs(dx), abs(dy))
        diff = c.diff[0].abs().numpy()
        assert diff.max() > 0.01, "a random image shifted in with zeros must differ somewhere"
        assert diff[band:-band, band:-band].max() < 1e-5, (dx, dy)
        assert 0 < c.band <= c.band_bound == band
        assert "not equivariant at the border" in str(eq.verdict(c, "zeros"))


def test_shift_larger_than_the_image_gives_zero_and_agrees():
    c = eq.compare(torch.rand(3, 10, 10), RNG.normal(size=(3, 3)), 130, -4, "zeros")
    assert c.shift_then_conv.abs().max() == 0 and c.max_err == 0
    assert c.gap_change == pytest.approx(1.0)  # everything left the frame


def test_all_zero_kernel_is_a_sensible_result():
    c = eq.compare(torch.rand(3, 10, 10), np.zeros((3, 3)), 2, 2, "zeros")
    assert c.max_err == 0 and c.all_zero_kernel and "all zeros" in str(eq.verdict(c, "zeros"))
    assert c.gap_change == 0.0


def test_global_average_pool_is_invariant_with_circular_shift_only():
    img = demo_image()
    circ = eq.compare(img, EDGE, 7, -3, "circular")
    assert circ.gap_change < 1e-6
    relu = np.maximum(ndimage.convolve(img.numpy(), EDGE[None], mode="wrap"), 0).mean(axis=(1, 2))
    np.testing.assert_allclose(circ.gap_before.numpy(), relu, rtol=1e-5)
    # ReLU keeps only the square's left edge (columns 39 and 40, equal profiles). Shifted 45 px left the square
    # spans columns 0..14: the real edge left, but the zero border makes a fake one in column 0 alone -> half.
    assert eq.compare(img, EDGE, -45, 0, "zeros").gap_change == pytest.approx(0.5)
    assert eq.compare(img, EDGE, -60, 0, "zeros").gap_change == pytest.approx(1.0)  # all gone
    assert eq.compare(img, EDGE, 50, 0, "zeros").gap_change == 0  # only the (negative) right edge leaves


def test_fractional_shift_is_a_roll_at_whole_cells_and_exact_for_band_limited_signals():
    x = torch.rand(2, 5, 12)
    assert torch.equal(fractional_shift(x, 3.0), torch.roll(x, 3, -1))
    # a band-limited signal (frequencies 1 and 3 of 16 samples) moved by half a sample: the analytic shift
    t = torch.arange(16, dtype=torch.float64)
    f = lambda u: torch.sin(2 * math.pi * u / 16) + 0.5 * torch.cos(2 * math.pi * 3 * u / 16 + 0.3)  # noqa: E731
    assert torch.allclose(fractional_shift(f(t), 0.5), f(t - 0.5), atol=1e-12)
    assert torch.allclose(fractional_shift(f(t), -2.25), f(t + 2.25), atol=1e-12)
    # the Nyquist term of an even length stays real: a half-sample shift of (-1)^t is cos(pi/2) = 0 of it
    assert torch.allclose(fractional_shift((-1.0) ** t, 0.5), torch.zeros(16, dtype=torch.float64), atol=1e-12)


def test_odd_shift_reference_is_half_a_cell():
    rows = eq.error_curve(eq.basic_chains(EDGE)["conv + stride 2"], demo_image(), [0, 1, 3, 4])
    assert [r["reference_shift_cells"] for r in rows] == [0, 0.5, 1.5, 2]


def test_crop_margin():
    assert eq.crop_margin(128, 1) == 16 and eq.crop_margin(128, 2) == 8
    assert eq.crop_margin(128, 32) == 1 and eq.crop_margin(64, 8) == 1


def errors(chain, img, shifts):
    return {r["shift_px"]: r["error"] for r in eq.error_curve(chain, img, shifts)}


@pytest.fixture(scope="module")
def chains():
    return eq.basic_chains(RNG.normal(size=(3, 3)))


def test_plain_conv_chain_is_equivariant_for_every_shift(chains):
    e = errors(chains["conv"], torch.rand(3, 40, 40), list(range(17)))
    assert max(e.values()) < 1e-5


@pytest.mark.parametrize("name", ["conv + stride 2", "conv + max-pool 2", "conv + blur-pool 2 (anti-aliased)"])
def test_stride_two_chains_only_equivariant_at_multiples_of_two(chains, name):
    e = errors(chains[name], torch.rand(3, 40, 40), [0, 1, 2, 3, 4])
    assert e[0] == 0 and e[2] < 1e-5 and e[4] < 1e-5
    # odd shifts: not exact even against the half-cell reference (noise has energy at every frequency)
    assert e[1] > 0.005 and e[3] > 0.005


@pytest.mark.parametrize("image", ["square", "stripes"])
def test_blur_pool_aliases_least_at_odd_shifts(image):
    # with the half-cell reference, what is left at an odd shift is aliasing: blurring first removes most of it
    if image == "square":
        img = demo_image()
    else:  # the built-in diagonal sine stripes
        img = load_sample("stripes")
    ch = eq.basic_chains(EDGE)
    err = {n: errors(ch[n], img, [1])[1] for n in ("conv + stride 2", "conv + max-pool 2",
                                                   "conv + blur-pool 2 (anti-aliased)")}
    assert err["conv + blur-pool 2 (anti-aliased)"] < 0.5 * min(err["conv + stride 2"], err["conv + max-pool 2"])


def test_patch_embedding_is_a_stride_p_conv_and_equivariant_at_multiples_of_p(chains):
    embed = eq.patch_embedding(8, 16, seed=3)
    x = torch.rand(2, 3, 32, 24)
    weight = torch.randn(3 * 64, 16, generator=torch.Generator().manual_seed(3))
    conv = F.conv2d(x, weight.T.reshape(16, 3, 8, 8), stride=8)
    torch.testing.assert_close(embed(x), conv, atol=1e-4, rtol=1e-4)
    e = errors(chains["ViT patch embedding (p=8)"], torch.rand(3, 64, 64), [0, 4, 8, 12, 16])
    assert e[8] < 1e-5 and e[16] < 1e-5 and e[4] > 0.05 and e[12] > 0.05


def test_zero_features_give_nan_not_a_crash():
    chain = eq.basic_chains(np.zeros((3, 3)))["conv"]
    assert all(np.isnan(v) for v in errors(chain, torch.rand(3, 32, 32), [0, 1]).values())


def loaded(net, kind):
    return LoadedModel("test", net.eval(), kind, (32, 32), ["a"], (0.5,) * 3, (0.5,) * 3)


def test_vit_token_map_puts_token_n_at_row_major_grid_cell():
    torch.manual_seed(0)
    net = VisionTransformer(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=3)
    chain = eq.model_chain(loaded(net, "vit"))
    assert chain.stride == 8 and chain.size == 32
    x = torch.rand(2, 3, 32, 32)
    grid = chain.features(x)
    tokens = net.forward_features((x - 0.5) / 0.5)[:, 1:]
    assert grid.shape == (2, 32, 4, 4)
    torch.testing.assert_close(grid[:, :, 2, 1], tokens[:, 2 * 4 + 1])
    e = errors(chain, torch.rand(3, 32, 32), [0, 8])
    assert e[0] == 0 and e[8] > 0  # learned absolute position embeddings: not equivariant even at p


def test_cnn_feature_map_chain():
    torch.manual_seed(0)
    chain = eq.model_chain(loaded(build_embedded("resnet", 3), "cnn"))
    assert chain.stride == 32 and chain.size == 128
    assert chain.features(torch.rand(1, 3, 128, 128)).shape[-2:] == (4, 4)
    assert eq.chain_shifts(32) == list(range(0, 65, 4))


def test_kernel_presets():
    assert eq.kernel_preset("vertical edge").tolist() == EDGE.tolist()
    g = eq.kernel_preset("Gaussian blur", 5)
    np.testing.assert_allclose(g, np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256)
    assert eq.kernel_preset("box", 7).sum() == pytest.approx(1)
    np.testing.assert_array_equal(eq.kernel_preset("random", 5, 3), eq.kernel_preset("random", 5, 3))
    assert not np.array_equal(eq.kernel_preset("random", 5, 3), eq.kernel_preset("random", 5, 4))
    with pytest.raises(ValueError):
        eq.kernel_preset("nope")


def test_colour_maps_state_their_ends():
    rgb = pic.diverging_rgb(np.array([[-2.0, 0.0, 2.0, 9.0]]), 2.0)
    assert rgb[0, 1].tolist() == [247, 247, 247]          # 0 -> white
    assert rgb[0, 0, 2] > rgb[0, 0, 0]                    # -vmax -> blue
    assert rgb[0, 2, 0] > rgb[0, 2, 2] and (rgb[0, 3] == rgb[0, 2]).all()  # +vmax red, beyond saturates
    assert pic.sequential_rgb(np.zeros((2, 2)), 0.0)[0, 0].tolist() == [255, 255, 255]
    assert pic.enlarge(np.zeros((100, 50, 3), np.uint8), 300, frame=0).shape == (600, 300, 3)
    framed = pic.enlarge(np.full((4, 4, 3), 255, np.uint8), 8, frame=1)
    assert framed.shape == (10, 10, 3) and framed[0, 0, 0] == 160 and framed[1, 1, 0] == 255


def test_colour_maps_follow_a_linear_ramp_through_their_anchors():
    t = np.concatenate([np.random.default_rng(0).uniform(0, 1, 5000), np.linspace(0, 1, 5)])
    for rgb, anchors in ((pic.diverging_rgb(2 * t - 1, 1.0), pic._DIVERGING), (pic.sequential_rgb(t, 1.0), pic._SEQUENTIAL)):
        ts = np.linspace(0, 1, len(anchors))
        expected = np.stack([np.interp(t, ts, anchors[:, c]) for c in range(3)], -1)
        assert np.abs(rgb.astype(float) - expected).max() <= 1.0
    assert np.array_equal(pic.diverging_rgb(np.linspace(-1, 1, 5), 1.0), pic._DIVERGING.astype(np.uint8))
    assert np.array_equal(pic.sequential_rgb(np.linspace(0, 1, 4), 1.0), pic._SEQUENTIAL.astype(np.uint8))


def test_odd_shift_reading_names_the_chain_that_aliases_least():
    rows = [{"chain": c, "shift_px": s, "whole_multiple": s % 2 == 0, "error": e}
            for c, errs in (("conv + stride 2", (0, 0.6, 0, 0.7)), ("conv + max-pool 2", (0, 0.5, 0, 0.5)),
                            ("conv + blur-pool 2 (anti-aliased)", (0, 0.2, 0, 0.1)))
            for s, e in zip(range(4), errs)]
    text = str(eq.odd_shift_reading(pd.DataFrame(rows)))
    assert "**0.650** for conv + stride 2, **0.500** for conv + max-pool 2, **0.150** for conv + blur-pool" in text
    assert "blur-pool 2 (anti-aliased) aliases least — blurring" in text
    rows = [r for r in rows if r["chain"] != "conv + blur-pool 2 (anti-aliased)"]
    assert "conv + max-pool 2 aliases least. Blurring" in str(eq.odd_shift_reading(pd.DataFrame(rows)))
    assert eq.odd_shift_reading(pd.DataFrame(rows[:4])) is None  # one chain: nothing to compare


def test_odd_shift_reading_in_chinese_carries_the_numbers_and_the_verdict():
    rows = [{"chain": c, "shift_px": s, "whole_multiple": s % 2 == 0, "error": e}
            for c, errs in (("conv + stride 2", (0, 0.6, 0, 0.7)), ("conv + max-pool 2", (0, 0.5, 0, 0.5)),
                            ("conv + blur-pool 2 (anti-aliased)", (0, 0.2, 0, 0.1)))
            for s, e in zip(range(4), errs)]
    reading = eq.odd_shift_reading(pd.DataFrame(rows))
    assert reading.key == "equivariance.odd.blur_least"
    zh = reading.text("zh")
    assert "“卷积 + 步幅 2”为 **0.650**，“卷积 + 最大池化 2”为 **0.500**，“卷积 + 模糊池化 2（抗混叠）”为 **0.150**。" in zh
    assert "“卷积 + 模糊池化 2（抗混叠）”的混叠最少——先模糊再下采样" in zh
    two = eq.odd_shift_reading(pd.DataFrame([r for r in rows if r["chain"] != "conv + blur-pool 2 (anti-aliased)"]))
    assert two.key == "equivariance.odd.other_least"
    assert "“卷积 + 步幅 2”为 **0.650**，“卷积 + 最大池化 2”为 **0.500**。“卷积 + 最大池化 2”的混叠最少。模糊" in two.text("zh")


def test_verdict_in_chinese_carries_the_numbers_and_the_reason():
    img = torch.rand(1, 24, 24)
    c = eq.compare(img, RNG.normal(size=(5, 5)), 4, 2, "zeros")
    v = eq.verdict(c, "zeros")
    assert v.key == "equivariance.verdict.border" and v.values["band"] == c.band
    zh = v.text("zh")
    assert zh.startswith(f"max |A - B| = {c.max_err:.4g}（在边界处不等变）")
    assert f"距边缘 {c.band} px 以内" in zh and f"= {c.band_bound} px" in zh and "零填充时" in zh
    assert eq.verdict(eq.compare(img, EDGE, 4, 2, "circular"), "circular").text("zh") == "max |A - B| = 0（等变）。"


@pytest.mark.parametrize("size", [3, 5, 7])
def test_a_new_custom_kernel_convolves_like_the_vertical_edge(size):
    table = eq.custom_start(size)
    assert table.shape == (size, size) and np.abs(table).sum() == 6  # the edge's six +-1s, zeros around them
    img = np.random.default_rng(size).random((20, 24))
    # zeros around a kernel's centre add nothing to a convolution: the same output as the 3 x 3 edge
    np.testing.assert_allclose(ndimage.convolve(img, table, mode="constant"),
                               ndimage.convolve(img, eq.kernel_preset("vertical edge"), mode="constant"), atol=1e-12)
    with pytest.raises(ValueError):
        eq.custom_start(4)
