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
    with pytest.raises(sen.SensitivityError, match=msg) as e:
        sen.make_path(*args)
    assert e.value.message.key.startswith("error.sensitivity.") and e.value.message.text("zh")


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


def _english(messages):
    return " ".join(str(m) for m in messages)


def test_reading_never_calls_a_mostly_wrong_model_steady():
    # cnn never changes its (wrong) answer; vit is right at 8 of 10 positions but jumps around
    msgs = sen.reading([_reading_row("cnn", 9, 0.0, 0.0), _reading_row("vit", 2, 0.3, 0.1)])
    assert msgs[0].key == "sensitivity.reading.steadiest" and msgs[0].values["name"] == "vit"
    text = _english(msgs)
    assert text.startswith("**vit** is the steadiest") and "cnn is wrong at 9 of 10 positions" in text
    msgs = sen.reading([_reading_row("cnn", 9, 0.0, 0.0), _reading_row("vit", 10, 0.3, 0.1)])
    assert [m.key for m in msgs] == ["sensitivity.reading.none_steady", "sensitivity.reading.wrong_at",
                                     "sensitivity.reading.wrong_everywhere"]
    text = _english(msgs)
    assert text.startswith("No model is right at most positions") and "steadiest" not in text
    assert sen.reading([]) == []


def test_the_reading_in_chinese_carries_the_numbers_and_the_verdict():
    rows = [_reading_row("cnn", 0, 0.0, 0.004), _reading_row("vit", 3, 0.25, 0.1234, positions=12),
            _reading_row("cnn-center", 12, 0.5, 0.3, positions=12)]
    rows[1]["wrong_at"], rows[1]["step"] = [0, 1, 2, 9], 1  # runs: 0–2 and 9
    zh = [m.text("zh") for m in sen.reading(rows)]
    assert zh[0] == ("在大多数位置上判断正确的模型中，**cnn** 最稳定（从一个位置移到下一个位置时，最高概率类别改变的比例为 0%，"
                     "目标类别的概率每次移动平均变化 0.004）。")
    assert zh[1] == "cnn 在每个位置都判断正确。"
    assert zh[2] == "vit 在 12 个位置中有 3 个判断错误（x = 0–2, 9）。"
    assert zh[3] == "cnn-center 在每个位置都判断错误。"
    # on a grid the positions are not listed; with nobody right at most positions no model is called steady
    grid = [dict(_reading_row("vit", 7, 0.3, 0.1), axis=None, wrong_at=[])]
    zh = [m.text("zh") for m in sen.reading(grid)]
    assert zh == ["没有哪个模型在大多数位置上判断正确，因此不称任何模型为稳定。", "vit 在 10 个位置中有 7 个判断错误。"]


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


def test_a_region_a_person_chose_is_cut_or_refused_in_their_language():
    img = torch.rand(3, 20, 30)
    s = shapes.sprite_from_region(img, 5, 2, 10, 8)
    assert torch.equal(s.rgb, img[:, 2:10, 5:15]) and s.shape == (8, 10)
    with pytest.raises(shapes.RegionError, match="the region is empty"):
        shapes.sprite_from_region(img, 0, 0, 0, 5)
    with pytest.raises(ValueError, match="the region 10x5 at \\(25, 0\\) does not fit in the 30x20 image") as e:
        shapes.sprite_from_region(img, 25, 0, 10, 5)
    assert e.value.message.text("zh") == "位于 (25, 0) 的 10×5 区域超出了 30×20 的图像"


def test_a_grid_over_the_position_cap_is_refused_with_the_reason():
    # an 8-px object on a 64-px canvas at step 1: 57 x 57 = 3,249 positions
    with pytest.raises(ValueError, match="57 x 57 grid is 3,249 positions, more than the 2,500") as e:
        sen.make_path("grid", (8, 8), (64, 64), 1)
    assert e.value.message.key == "error.sensitivity.too_many"
    assert e.value.message.text("zh").startswith("57 × 57 的网格共有 3,249 个位置，超过本应用一次扫描的上限 2,500")
    assert len(sen.make_path("grid", (8, 8), (64, 64), 2)) == 29 * 29
