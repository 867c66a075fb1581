import numpy as np
import pytest

from core import experiments as ex


def test_position_accuracy_hand_computed():
    # canvas 16, cell 8 -> 2x2 bins; row = y bin, column = x bin
    centres = np.array([[1, 1], [2, 3], [9, 2], [12, 12], [15.9, 8]])
    labels = np.array([0, 1, 2, 3, 4])
    preds = np.array([0, 0, 2, 3, 9])
    acc, counts = ex.position_accuracy(preds, labels, centres, canvas=16, cell=8)
    assert counts.tolist() == [[2, 1], [0, 2]]
    assert acc[0, 0] == 0.5 and acc[0, 1] == 1.0 and np.isnan(acc[1, 0]) and acc[1, 1] == 0.5


def test_position_accuracy_rejects_a_cell_that_does_not_divide():
    with pytest.raises(ValueError, match="divide"):
        ex.position_accuracy(np.zeros(1), np.zeros(1), np.zeros((1, 2)), canvas=64, cell=7)


def test_distance_accuracy_bands():
    centres = np.array([[32, 32], [33, 30], [40, 32], [32, 60]])  # Chebyshev distances 0, 2, 8, 28
    out = ex.distance_accuracy(np.array([1, 0, 1, 1]), np.array([1, 1, 1, 0]), centres, canvas=64, width=4)
    assert [(r["distance_px"], r["accuracy"], r["images"]) for r in out] == [(2, 0.5, 2), (10, 1.0, 1), (30, 0.0, 1)]


def test_shipped_position_results_match_the_shipped_weights():
    """The page reads core/results/positions.npz: it must be what the committed models predict today."""
    from core import models

    res = ex.load_positions()
    assert res is not None, "run `python -m core.experiments positions`"
    images, labels, centres = ex.position_test_set()
    assert np.array_equal(res["labels"], labels.numpy()) and np.allclose(res["centres"], centres.numpy())
    images = images[:150]
    for name in ex.POSITION_MODELS:
        stored = res[f"pred_{name}"][:150]
        assert np.mean(stored == ex.predict_all(models.load_model(name), images)) >= 0.99, name
