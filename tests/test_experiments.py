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


# --- data hunger -------------------------------------------------------------------------------------------
def test_crossovers_interpolate_on_a_log_axis():
    # the difference goes -0.1 -> +0.3 between N = 100 and 1000: zero a quarter of the way, at 10**2.25
    assert ex.crossovers([100, 1000], [0.5, 0.9], [0.6, 0.6]) == pytest.approx([10 ** 2.25])
    # an exact tie in the middle with a sign change across it is one crossover, at the tie
    assert ex.crossovers([100, 1000, 10000], [0.5, 0.6, 0.9], [0.6, 0.6, 0.8]) == pytest.approx([1000])
    assert ex.crossovers([100, 1000, 10000], [0.7, 0.6, 0.9], [0.6, 0.6, 0.8]) == []  # touches, no crossing
    assert ex.crossovers([100, 1000], [0.9, 0.9], [0.1, 0.2]) == []
    assert len(ex.crossovers([1, 10, 100, 1000], [1, 0, 1, 0], [0, 1, 0, 1])) == 3


def test_hunger_summary_mean_and_sample_std_over_seeds():
    rows = [{"model": "vit", "train_size": 250, "seed": s, "augment_px": 0, "accuracy": a}
            for s, a in enumerate([0.5, 0.7])]
    rows += [{"model": "vit", "train_size": 250, "seed": 0, "augment_px": 8, "accuracy": 0.9}]
    out = ex.hunger_summary(rows)
    mean, std, runs = out["vit"][250]
    assert mean == pytest.approx(0.6) and std == pytest.approx(0.1 * 2 ** 0.5) and runs == 2
    assert out["vit + shift aug"][250] == (0.9, 0.0, 1)


def test_hunger_reading_names_the_winner_and_the_gaps():
    cnn = {250: (0.60, 0, 3), 16000: (0.95, 0, 3)}
    vit = {250: (0.30, 0, 3), 16000: (0.55, 0, 3)}
    text = ex.hunger_reading({"cnn": cnn, "vit": vit, "vit + shift aug": {16000: (0.65, 0, 3)}})
    assert "CNN beats the ViT at every N" in text
    assert "+30.0 points at N = 250" in text and "+40.0 at N = 16,000" in text
    assert "CNN goes from 60.0% to 95.0%" in text and "ViT from 30.0% to 55.0%" in text
    assert "+10.0 points at N = 16,000" in text
    crossing = ex.hunger_reading({"cnn": {100: (0.6, 0, 1), 1000: (0.7, 0, 1)},
                                  "vit": {100: (0.5, 0, 1), 1000: (0.8, 0, 1)}})
    # equal gaps of 0.1 either side: the crossing is at the log-midpoint of 100 and 1000
    assert "CNN is ahead below N ≈ 316 and the ViT above it" in crossing


def test_hunger_plan_covers_every_size_model_and_seed():
    runs = ex.hunger_plan()
    plain = {(m, n, s) for m, n, s, a in runs if a == 0}
    assert plain == {(m, n, s) for m in ("cnn", "vit") for n in ex.SIZES for s in range(3)}
    assert {(m, n, s) for m, n, s, a in runs if a} == {("vit", n, s) for n in ex.AUGMENT_SIZES for s in range(3)}
    assert len(runs) == len(set(runs)) and runs[0][0] == "vit"


def test_hunger_command_writes_the_csv_columns(tmp_path):
    out = tmp_path / "h.csv"
    ex.hunger_main(["--sizes", "20", "30", "--seeds", "1", "--steps", "2", "--augment", "2", "--augment-sizes",
                    "20", "--jobs", "1", "--out", str(out)])
    df = ex.load_hunger(out)
    assert tuple(df.columns) == ex.HUNGER_COLUMNS
    assert sorted(zip(df.model, df.train_size, df.augment_px)) == [
        ("cnn", 20, 0), ("cnn", 30, 0), ("vit", 20, 0), ("vit", 20, 2), ("vit", 30, 0)]
    assert (df.steps == 2).all() and df.accuracy.between(0, 1).all()


def test_shipped_hunger_results_cover_every_size_model_and_seed():
    df = ex.load_hunger()
    assert df is not None, "run `python -m core.experiments hunger`"
    got = {(m, n, s, a) for m, n, s, a in zip(df.model, df.train_size, df.seed, df.augment_px)}
    assert got == set(ex.hunger_plan()), "the CSV is not the default plan: re-run the command"
    assert (df.steps == ex.HUNGER_STEPS).all() and (df.batch == ex.HUNGER_BATCH).all()
    assert df.accuracy.between(0, 1).all() and df.command.nunique() == 1
    # a held-out accuracy well above chance (10 %) for the CNN on the largest set: the runs really trained
    assert df[(df.model == "cnn") & (df.train_size == max(ex.SIZES))].accuracy.min() > 0.5
