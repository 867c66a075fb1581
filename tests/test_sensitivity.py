import numpy as np
import pytest
import torch

from core import sensitivity as sen
from core import shapes
from core.models import LoadedModel


def _model(net, size=(32, 32)):
    return LoadedModel("test", net.eval(), "cnn", size, [f"c{i}" for i in range(4)], (0.0,) * 3, (1.0,) * 3)


class CircularInvariant(torch.nn.Module):
    """Circular conv + global average pooling: exactly invariant to circular shifts."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1, padding_mode="circular")

    def forward(self, x):
        return self.conv(x).relu().mean((2, 3)) * 5


class PerPixel(torch.nn.Module):
    """A position-sensitive model: logits are a fixed linear map of the raw pixels."""

    def __init__(self, hw=32):
        super().__init__()
        torch.manual_seed(1)
        self.fc = torch.nn.Linear(3 * hw * hw, 4)

    def forward(self, x):
        return self.fc(x.flatten(1)) * 20


def test_paths_keep_object_inside_and_step():
    p = sen.make_path("horizontal", (20, 20), (64, 64))
    assert list(p.xs) == list(range(45)) and set(p.ys) == {22}
    p = sen.make_path("vertical", (10, 6), (32, 40), step=3, fixed=4)
    assert list(p.ys) == list(range(0, 23, 3)) and set(p.xs) == {4}
    p = sen.make_path("diagonal", (20, 20), (64, 48))
    assert list(p.xs) == list(p.ys) == list(range(29))
    p = sen.make_path("grid", (20, 20), (64, 64), step=2)
    assert p.grid_shape == (23, 23) and len(p) == 23 * 23
    assert p.xs[1] - p.xs[0] == 2 and p.ys[23] == 2


@pytest.mark.parametrize("args, msg", [
    (("horizontal", (70, 10), (64, 64)), "larger than the frame"),
    (("spiral", (10, 10), (64, 64)), "unknown path"),
    (("grid", (10, 10), (64, 64), 0), "at least 1"),
])
def test_bad_paths_have_clear_messages(args, msg):
    with pytest.raises(ValueError, match=msg):
        sen.make_path(*args)


@pytest.mark.parametrize(("size", "frames"), [((64, 64), 32), ((224, 224), 2), ((32, 32), 128), ((2000, 3000), 1)])
def test_frames_per_chunk_keeps_a_chunk_near_32_frames_of_64x64(size, frames):
    assert sen.frames_per_chunk(*size) == frames


@pytest.mark.parametrize("chunk", [1, 7, 1000, None])
def test_sweep_equals_per_frame_forward(chunk):
    bg = torch.rand(3, 32, 32)
    sprite = shapes.make_sprite("cross", 9, color=(1, 0, 0))
    models = {"pix": _model(PerPixel()), "inv": _model(CircularInvariant())}
    path = sen.make_path("grid", sprite.shape, (32, 32), step=4)
    out = sen.sweep(models, bg, sprite, path, chunk=chunk)
    for name, m in models.items():
        with torch.no_grad():
            ref = torch.stack([torch.softmax(m.net(sen.frames(bg, sprite, path, i)[None]), -1)[0]
                               for i in range(len(path))]).numpy()
        np.testing.assert_allclose(out[name], ref, rtol=1e-5, atol=1e-6)


def test_empty_path_is_rejected():
    empty = sen.Path("horizontal", np.array([], int), np.array([], int))
    with pytest.raises(ValueError, match="no positions"):
        sen.sweep({}, torch.zeros(3, 8, 8), shapes.make_sprite("circle", 4), empty)


def test_consistency_hand_computed():
    assert sen.consistency(np.array([2, 2, 2, 2])) == 100.0
    # two classes split 50/50 over 2 positions: every pair of distinct positions disagrees
    assert sen.consistency(np.array([0, 1])) == 0.0
    # 3 of 4 positions agree: distinct pairs agree with probability 3/6 = 0.5
    assert sen.consistency(np.array([1, 1, 1, 0])) == pytest.approx(50.0)
    # exact, compared with counting every ordered pair by brute force
    top1 = np.random.default_rng(3).integers(0, 4, 37)
    agree = [top1[i] == top1[j] for i in range(37) for j in range(37) if i != j]
    assert sen.consistency(top1) == pytest.approx(100 * np.mean(agree), abs=1e-9)


def _reading_row(name, n_wrong, jag, mac, positions=10):
    return {"name": name, "jaggedness": jag, "mac_target": mac, "positions": positions, "n_wrong": n_wrong,
            "wrong_at": list(range(n_wrong)), "axis": "x", "step": 1}


def test_reading_never_calls_a_mostly_wrong_model_steady():
    # cnn never changes its (wrong) answer; vit is right at 8 of 10 positions but jumps around
    text = sen.reading([_reading_row("cnn", 9, 0.0, 0.0), _reading_row("vit", 2, 0.3, 0.1)])
    assert text.startswith("**vit** is the steadiest") and "cnn is wrong at 9 of 10 positions" in text
    text = sen.reading([_reading_row("cnn", 9, 0.0, 0.0), _reading_row("vit", 10, 0.3, 0.1)])
    assert text.startswith("No model is right at most positions") and "steadiest" not in text


def test_jaggedness_and_mac_hand_computed():
    assert sen.jaggedness(np.array([0, 0, 1, 1, 0])) == pytest.approx(2 / 4)
    assert sen.mean_absolute_change(np.array([0.1, 0.4, 0.2, 0.2])) == pytest.approx((0.3 + 0.2 + 0) / 3)
    grid = np.array([[0, 1], [0, 0]]).ravel()  # pairs: (0,1) (0,0) horizontally; (0,0) (1,0) vertically
    assert sen.jaggedness(grid, (2, 2)) == pytest.approx(2 / 4)


def test_circularly_invariant_model_is_perfectly_stable():
    """Circular shifts of the whole frame: an exactly invariant model has consistency 100, jaggedness 0."""
    torch.manual_seed(3)
    base = torch.rand(3, 32, 32)
    model = _model(CircularInvariant())
    frames = torch.stack([torch.roll(base, s, 2) for s in range(32)])
    with torch.no_grad():
        probs = model.net(frames).softmax(-1).numpy()
    path = sen.Path("horizontal", np.arange(32), np.zeros(32, int))
    m = sen.metrics(probs, int(probs[0].argmax()), path)
    assert m["consistency"] == 100.0 and m["jaggedness"] == 0.0 and m["accuracy"] == 1.0
    assert m["mac_top1"] < 1e-6


def test_metrics_reject_bad_class():
    with pytest.raises(ValueError, match="out of range"):
        sen.metrics(np.full((3, 4), 0.25), 4, sen.make_path("horizontal", (2, 2), (2, 4)))


def test_region_sprite_validates():
    img = torch.rand(3, 20, 30)
    s = shapes.sprite_from_region(img, 5, 2, 10, 8)
    assert torch.equal(s.rgb, img[:, 2:10, 5:15]) and s.shape == (8, 10)
    with pytest.raises(ValueError, match="empty"):
        shapes.sprite_from_region(img, 0, 0, 0, 5)
    with pytest.raises(ValueError, match="does not fit"):
        shapes.sprite_from_region(img, 25, 0, 10, 5)


def test_a_grid_over_the_position_cap_is_refused_with_the_reason():
    # an 8-px object on a 64-px canvas at step 1: 57 x 57 = 3,249 positions
    with pytest.raises(ValueError, match="57 x 57 grid is 3,249 positions, more than the 2,500"):
        sen.make_path("grid", (8, 8), (64, 64), 1)
    assert len(sen.make_path("grid", (8, 8), (64, 64), 2)) == 29 * 29
