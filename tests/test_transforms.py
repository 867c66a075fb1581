"""core.transforms against independent references: scipy.ndimage and plain numpy loops."""
import numpy as np
import pytest
import torch
from scipy import ndimage

from core.transforms import (KernelError, blur_pool, convolve, max_pool, patchify, subsample,
                             translate)

RNG = np.random.default_rng(1234)


def loop_translate(img: np.ndarray, dx: int, dy: int, circular: bool) -> np.ndarray:
    """out[y + dy, x + dx] = img[y, x], one pixel at a time."""
    h, w = img.shape[-2:]
    out = np.zeros_like(img)
    for y in range(h):
        for x in range(w):
            ty, tx = y + dy, x + dx
            if circular:
                ty, tx = ty % h, tx % w
            elif not (0 <= ty < h and 0 <= tx < w):
                continue
            out[..., ty, tx] = img[..., y, x]
    return out


@pytest.mark.parametrize("size", [1, 3, 5, 7])
@pytest.mark.parametrize("mode,scipy_mode", [("zeros", "constant"), ("circular", "wrap")])
def test_convolve_equals_scipy_multichannel(size, mode, scipy_mode):
    img = RNG.normal(size=(3, 11, 9))
    kernel = RNG.normal(size=(size, size))  # random: not symmetric, so a missing flip would show
    expected = ndimage.convolve(img, kernel[None], mode=scipy_mode)
    got = convolve(torch.tensor(img), kernel, mode)
    assert got.shape == img.shape and got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-12)


@pytest.mark.parametrize("mode,scipy_mode", [("zeros", "constant"), ("circular", "wrap")])
def test_convolve_batched_and_non_square(mode, scipy_mode):
    img = RNG.normal(size=(2, 3, 8, 10))
    kernel = RNG.normal(size=(3, 5))
    expected = ndimage.convolve(img, kernel[None, None], mode=scipy_mode)
    np.testing.assert_allclose(convolve(torch.tensor(img), kernel, mode).numpy(), expected, atol=1e-12)


def test_convolve_kernel_larger_than_image_wraps_like_scipy():
    img = RNG.normal(size=(2, 3))
    kernel = RNG.normal(size=(7, 7))
    for mode, scipy_mode in (("zeros", "constant"), ("circular", "wrap")):
        np.testing.assert_allclose(convolve(torch.tensor(img), kernel, mode).numpy(),
                                   ndimage.convolve(img, kernel, mode=scipy_mode), atol=1e-12)


def test_convolve_is_not_cross_correlation():
    img = np.zeros((5, 5))
    img[2, 2] = 1.0  # an impulse: convolution reproduces the kernel, correlation its flip
    kernel = np.arange(9.0).reshape(3, 3)
    np.testing.assert_array_equal(convolve(torch.tensor(img), kernel).numpy()[1:4, 1:4], kernel)


def test_convolve_float32_input_and_all_zero_kernel():
    img = torch.rand(3, 6, 6)
    out = convolve(img, np.zeros((3, 3)), "circular")
    assert out.dtype == torch.float32 and torch.count_nonzero(out) == 0


@pytest.mark.parametrize("bad,message", [
    (np.ones((2, 2)), "odd"), (np.ones((3, 4)), "odd"), (np.zeros((0, 0)), "empty"), ([], "empty"),
    ([[1, "a", 0]], "number"), ([[1.0, float("nan"), 0.0]], "finite"), (np.ones(3), "2-D"),
])
def test_bad_kernels_get_a_clear_message(bad, message):
    with pytest.raises(KernelError, match=message):
        convolve(torch.rand(4, 4), bad)


def test_a_bad_kernel_is_explained_in_chinese_too():
    with pytest.raises(KernelError) as e:
        convolve(torch.rand(4, 4), np.ones((3, 4)))
    assert e.value.message.key == "error.kernel.even"
    assert str(e.value) == "kernel sides must be odd (1, 3, 5, 7) so it has a centre pixel, got 3x4"
    assert e.value.message.text("zh") == "卷积核的边长必须是奇数（1、3、5、7），这样才有中心像素；这里是 3×4"


def test_bad_mode_is_refused():
    with pytest.raises(ValueError, match="border mode"):
        convolve(torch.rand(4, 4), np.ones((3, 3)), "reflect")
    with pytest.raises(ValueError, match="border mode"):
        translate(torch.rand(4, 4), 1, 1, "mirror")


SHIFTS = [(0, 0), (2, 1), (-3, 2), (1, -4), (-2, -2), (6, 0), (0, -7), (25, 3), (-30, -31), (7, 5)]


@pytest.mark.parametrize("dx,dy", SHIFTS)
@pytest.mark.parametrize("circular", [False, True])
def test_translate_equals_pixel_loop(dx, dy, circular):
    img = RNG.normal(size=(2, 3, 5, 7))  # batched, multi-channel, not square
    got = translate(torch.tensor(img), dx, dy, "circular" if circular else "zeros").numpy()
    np.testing.assert_array_equal(got, loop_translate(img, dx, dy, circular))


def test_translate_direction_is_right_and_down():
    img = torch.zeros(4, 4)
    img[0, 0] = 1
    out = translate(img, 2, 1)
    assert out[1, 2] == 1 and out.sum() == 1


def loop_max_pool(img, size, stride):
    """Windows anchored top-left every `stride` px, wrapping past the right/bottom edge."""
    h, w = img.shape
    return np.array([[max(img[(y + i) % h, (x + j) % w] for i in range(size) for j in range(size))
                      for x in range(0, w, stride)] for y in range(0, h, stride)])


def test_max_pool_and_subsample_equal_loops():
    img = RNG.normal(size=(6, 8))
    np.testing.assert_array_equal(max_pool(torch.tensor(img), 2, 2).numpy(), loop_max_pool(img, 2, 2))
    np.testing.assert_array_equal(max_pool(torch.tensor(img), 2, 1).numpy(), loop_max_pool(img, 2, 1))
    np.testing.assert_array_equal(subsample(torch.tensor(img), 2).numpy(), img[0::2, 0::2])


def test_blur_pool_equals_maxpool_stride1_then_binomial_then_subsample():
    img = RNG.normal(size=(6, 8))
    pooled = loop_max_pool(img, 2, 1)
    binomial = np.outer([1, 2, 1], [1, 2, 1]) / 16
    expected = ndimage.convolve(pooled, binomial, mode="wrap")[::2, ::2]
    np.testing.assert_allclose(blur_pool(torch.tensor(img), 2).numpy(), expected, atol=1e-12)


def test_patchify_row_major_tokens_channel_first():
    img = RNG.normal(size=(3, 8, 12))
    p = 4
    tokens = patchify(torch.tensor(img), p).numpy()
    assert tokens.shape == (6, 3 * p * p)
    n = 0
    for gy in range(2):
        for gx in range(3):
            expected = [img[c, gy * p + i, gx * p + j] for c in range(3) for i in range(p) for j in range(p)]
            np.testing.assert_array_equal(tokens[n], expected)
            n += 1
    batched = patchify(torch.tensor(np.stack([img, img * 2])), p).numpy()
    np.testing.assert_array_equal(batched[1], tokens * 2)


def test_patchify_drops_partial_patches_and_refuses_bad_sizes():
    assert patchify(torch.rand(1, 10, 9), 4).shape == (4, 16)
    with pytest.raises(ValueError):
        patchify(torch.rand(1, 4, 4), 5)
    with pytest.raises(ValueError):
        patchify(torch.rand(4, 4), 2)
