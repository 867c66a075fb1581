"""The Fourier heat map (core.experiments.fourier) against hand-computed facts."""
import numpy as np
import torch

from core.experiments import fourier as fo


def test_a_basis_image_is_one_plane_wave_of_unit_norm():
    b = fo.basis(5, -3, size=32)
    assert b.shape == (3, 32, 32) and abs(float(b.norm()) - 1) < 1e-6
    spectrum = np.abs(np.fft.fft2(b[0].double().numpy()))
    peaks = {tuple(int(i) for i in p) for p in np.argwhere(spectrum > 1e-6 * spectrum.max())}
    assert peaks == {(-3 % 32, 5), (3, -5 % 32)}  # rows v, columns u: the frequency and its mirror only
    assert torch.allclose(fo.basis(5, -3, 32), fo.basis(-5, 3, 32), atol=1e-6)


class _Model:
    """A 'model' that answers class 1 when the image's mean brightness exceeds a threshold: it sees only the
    zero frequency, so every other plane wave (mean 0) leaves its answers alone."""

    def __init__(self):
        self.net = lambda x: torch.stack([x.mean((1, 2, 3)) * 0, x.mean((1, 2, 3)) - 0.5], 1) * 100
        self.preprocess = lambda x: x


def test_a_model_that_sees_only_the_mean_is_hurt_only_by_the_zero_frequency():
    images = torch.full((4, 3, 16, 16), 0.45)
    labels = torch.zeros(4, dtype=torch.long)  # mean 0.45 < 0.5: class 0, correct
    errors = fo.error_map(_Model(), images, labels, eps=16.0, step=2)
    f = fo.frequencies(16, 2)
    zero = (list(f).index(0), list(f).index(0))
    assert errors[zero] == 1.0  # +16/sqrt(768) = +0.58 brightness: every answer flips
    others = np.delete(errors.flatten(), zero[0] * len(f) + zero[1])
    assert (others == 0).all()
    assert fo.band_error(errors, 1, 100, step=2) == 0 and fo.band_error(errors, 0, 1, step=2) == 1.0


def test_axis_error_separates_the_waves_along_the_axes():
    f = fo.frequencies(8, 2)  # -4, -2, 0, 2
    errors = np.zeros((4, 4))
    errors[2, :] = 1.0  # v = 0: every u
    assert fo.axis_error(errors, f) == (1.0 * 3 / 6, 0.0)  # the row of 4 holds the origin; the u = 0 column is 0
