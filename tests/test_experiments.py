import numpy as np
import pytest
import torch

from core.experiments import positions


def test_position_accuracy_hand_computed():
    # canvas 16, cell 8 -> 2x2 bins; row = y bin, column = x bin
    centres = np.array([[1, 1], [2, 3], [9, 2], [12, 12], [15.9, 8]])
    labels = np.array([0, 1, 2, 3, 4])
    preds = np.array([0, 0, 2, 3, 9])
    acc, counts = positions.position_accuracy(preds, labels, centres, canvas=16, cell=8)
    assert counts.tolist() == [[2, 1], [0, 2]]
    assert acc[0, 0] == 0.5 and acc[0, 1] == 1.0 and np.isnan(acc[1, 0]) and acc[1, 1] == 0.5


def test_position_accuracy_rejects_a_cell_that_does_not_divide():
    with pytest.raises(ValueError, match="divide"):
        positions.position_accuracy(np.zeros(1), np.zeros(1), np.zeros((1, 2)), canvas=64, cell=7)


def test_a_heat_map_cell_with_too_few_objects_is_masked():
    # 25 objects in the cell at (x 24-31, y 24-31), 20 of them right; 3 near the top edge (x 8-15, y 0-7), 2 right
    centres = np.array([[28, 27]] * 25 + [[12, 7]] * 3)
    labels = np.zeros(28, dtype=int)
    right = np.array([0] * 20 + [1] * 5 + [0, 0, 1])
    rows = positions.position_grid({"m": right}, labels, centres, cell=8, min_objects=10)
    by_cell = {(r["x"], r["y"]): r for r in rows}
    assert set(by_cell) == {(28, 28), (12, 4)}  # empty cells are left out
    assert by_cell[(28, 28)]["enough"] and by_cell[(28, 28)]["images"] == 25 and by_cell[(28, 28)]["accuracy"] == 0.8
    assert not by_cell[(12, 4)]["enough"] and by_cell[(12, 4)]["images"] == 3
    assert positions.MIN_OBJECTS > 3 and not positions.position_grid({"m": right}, labels, centres)[0]["enough"]


def test_the_heat_maps_colour_only_cells_with_enough_objects_and_give_n():
    import pandas as pd

    from ui import data_views as dv

    grid = pd.DataFrame([{"model": "cnn", "x": 4, "y": 4, "accuracy": 0.5, "images": 3, "enough": False},
                         {"model": "cnn", "x": 12, "y": 4, "accuracy": 0.9, "images": 50, "enough": True}])
    charts = dv._position_heatmaps(grid, cell=8)
    spec = charts[dv.POSITION_NAMES.index("cnn")].to_dict()
    coloured = [la for la in spec["layer"] if "color" in la.get("encoding", {})]
    grey = [la for la in spec["layer"] if "color" not in la.get("encoding", {})]
    assert [la["transform"][0]["filter"] for la in coloured] == ["datum.enough"]
    assert [la["transform"][0]["filter"] for la in grey] == ["!datum.enough"]
    for la in spec["layer"]:  # every cell's tooltip gives its number of objects
        assert "images" in [tip["field"] for tip in la["encoding"]["tooltip"]]
    assert "accuracy" not in [tip["field"] for tip in grey[0]["encoding"]["tooltip"]]


def test_distance_accuracy_bands():
    centres = np.array([[32, 32], [33, 30], [40, 32], [32, 60]])  # Chebyshev distances 0, 2, 8, 28
    out = positions.distance_accuracy(np.array([1, 0, 1, 1]), np.array([1, 1, 1, 0]), centres, canvas=64, width=4)
    assert [(r["distance_px"], r["accuracy"], r["images"]) for r in out] == [(2, 0.5, 2), (10, 1.0, 1), (30, 0.0, 1)]


def test_shipped_position_results_match_the_shipped_weights():
    """The page reads core/results/positions.npz: it must be what the committed models predict today."""
    from core import models

    res = positions.load_positions()
    assert res is not None, "run `python -m core.experiments positions`"
    images, labels, centres = positions.position_test_set()
    assert np.array_equal(res["labels"], labels.numpy()) and np.allclose(res["centres"], centres.numpy())
    images = images[:150]
    for name in positions.POSITION_MODELS:
        stored = res[f"pred_{name}"][:150]
        assert np.mean(stored == positions.predict_all(models.load_model(name), images)) >= 0.99, name


class _PoolNet(torch.nn.Module):
    """Circular conv -> global average pool -> linear: exactly invariant to circular shifts by construction."""

    def __init__(self, invariant=True):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1, padding_mode="circular" if invariant else "zeros")
        self.fc = torch.nn.Linear(4 * (1 if invariant else 16), 10)
        self.invariant = invariant

    def forward_features(self, x):
        return torch.relu(self.conv(x))

    def forward_head(self, f, pre_logits=False):
        pooled = f.mean((-2, -1)) if self.invariant else torch.nn.functional.adaptive_avg_pool2d(f, 4).flatten(1)
        return pooled if pre_logits else self.fc(pooled)

    def get_classifier(self):
        return self.fc


class _Loaded:
    def __init__(self, net):
        self.name, self.net = "stub", net

    def preprocess(self, x):
        return x


def test_shift_stability_of_an_exactly_invariant_model_and_a_position_coding_one():
    torch.manual_seed(0)
    images = torch.rand(20, 3, 16, 16)
    rows = positions.shift_stability(_Loaded(_PoolNet()), images, shifts=(1, 3))
    assert [r["shift_px"] for r in rows] == [1, 3]
    assert all(r["feature_change"] < 1e-5 and r["top1_kept_pct"] == 100.0 and r["images"] == 20 for r in rows)
    # pooling into a 4x4 grid keeps where things are: a shift changes the features
    coded = positions.shift_stability(_Loaded(_PoolNet(invariant=False)), images, shifts=(1,))
    assert coded[0]["feature_change"] > 0.01


def test_stability_reading_follows_the_numbers():
    import pandas as pd

    df = pd.DataFrame([{"model": "cnn", "shift_px": 1, "feature_change": 0.14, "top1_kept_pct": 88.7, "images": 300},
                       {"model": "cnn-aa", "shift_px": 1, "feature_change": 0.05, "top1_kept_pct": 95.7,
                        "images": 300}])
    assert "cnn-aa is more shift-stable than cnn" in str(positions.stability_reading(df))
    assert "14.0%" in str(positions.stability_reading(df)) and "95.7 %" in str(positions.stability_reading(df))
    assert "cnn-aa 比 cnn 对平移更稳定" in positions.stability_reading(df).text("zh")
    df.loc[1, "top1_kept_pct"] = 80.0
    assert "cnn-aa is not clearly more stable than cnn" in str(positions.stability_reading(df))
    df.loc[1, "feature_change"] = 0.2
    assert "cnn-aa is less shift-stable than cnn" in str(positions.stability_reading(df))
    assert positions.stability_reading(df[df.model == "cnn"]) is None


def test_band_accuracy_counts_the_objects_within_the_band():
    centres = np.array([[32, 32], [33, 30], [40, 32], [32, 60]])  # Chebyshev distances 0, 2, 8, 28
    preds, labels = np.array([1, 0, 1, 1]), np.array([1, 1, 1, 0])
    assert positions.band_accuracy(preds, labels, centres, 0, 8) == 0.5  # distances 0 and 2
    assert positions.band_accuracy(preds, labels, centres, 8, 99) == 0.5  # 8 (right) and 28 (wrong)
    assert positions.band_accuracy(preds, labels, centres, 0, 3) == 0.5
    assert positions.band_accuracy(preds, labels, centres, 3, 9) == 1


def test_the_bands_sentence_gives_each_models_near_and_far_accuracy_and_its_training():
    from core.messages import text

    card = {m: {"recipe": {"steps": 1000 * (i + 1), "batch": 64}, "training_set": {"images": 60000}}
            for i, m in enumerate(("cnn", "vit"))}
    msg = positions.bands_reading({"cnn": (0.99, 0.14), "vit": (0.97, 0.93)}, card)
    en = text("en", msg.key, **msg.values)
    near, far = positions.NEAR_FAR
    assert en.startswith(f"Objects within {near} px of the middle → objects {far} px or more out: ")
    assert "**cnn** 99% → 14%" in en and "**vit** 97% → 93%" in en
    assert "60,000 images" in en and "cnn 1,000 steps of 64" in en and "vit 2,000 steps of 64" in en
