"""core.tour: which choice each step's data makes right, on hand-computed cases and at the boundaries."""
import numpy as np
import pytest

from core import biases as bi
from core import tour


@pytest.mark.parametrize("raw, expected", [(None, (1, True)), ("3", (3, True)), (" 4 ", (4, True)),
                                           (str(len(tour.STEPS)), (len(tour.STEPS), True)), ("0", (1, False)),
                                           (str(len(tour.STEPS) + 1), (1, False)), ("-2", (1, False)),
                                           ("two", (1, False)), ("2.5", (1, False)), ("", (1, False))])
def test_step_number_accepts_only_the_tours_steps(raw, expected):
    assert tour.step_number(raw) == expected


def test_every_step_but_the_summary_asks_two_to_four_choices():
    assert [s.id for s in tour.STEPS][-1] == "summary" and tour.STEPS[-1].choices == ()
    assert all(2 <= len(s.choices) <= 4 and len(set(s.choices)) == len(s.choices) for s in tour.STEPS[:-1])


def test_bias_reads_the_layer_arithmetic():
    # 64x64x3 -> 64x64x16: a 3x3 convolution has 3*3*3*16 weights + 16 biases; a dense layer one weight per
    # (input value, output value) pair + one bias per output value
    counts = {"conv": 3 * 3 * 3 * 16 + 16, "local": 0, "dense": 64 * 64 * 3 * 64 * 64 * 16 + 64 * 64 * 16}
    a = tour.bias(counts)
    assert a.correct == "million" and a.values["ratio"] == pytest.approx(805_371_904 / 448)
    assert tour.bias({"conv": 1, "dense": 50}).correct == "ten"  # the boundaries lie halfway in log
    assert tour.bias({"conv": 1, "dense": 5_000}).correct == "thousand"
    assert tour.bias({"conv": 1, "dense": 40_000}).correct == "million"


@pytest.mark.parametrize("first, last, expected", [(5.6, 31.7, "near_far"), (5.0, 10.0, "near_near"),
                                                   (20.0, 30.0, "far_far"), (15.9, 16.0, "near_far")])
def test_cnn_calls_a_radius_under_a_quarter_of_the_side_near(first, last, expected):
    assert tour.cnn(first, last, 64).correct == expected


@pytest.mark.parametrize("shuffled, expected", [({"cnn": 0.16, "vit": 0.97}, "vit"), ({"cnn": 0.95, "vit": 0.40}, "cnn"),
                                                ({"cnn": 0.95, "vit": 0.95}, "both"),
                                                ({"cnn": 0.20, "vit": 0.30}, "neither"),
                                                ({"cnn": 0.20, "vit": 0.96 - bi.ORDER_FREE}, "vit")])
def test_vit_step_asks_who_keeps_its_accuracy_when_patches_are_shuffled(shuffled, expected):
    assert tour.vit({"cnn": 0.98, "vit": 0.96}, shuffled, 8).correct == expected


def test_equivariance_tells_rounding_from_the_border_from_everywhere():
    assert tour.equivariance(0.0, 1e-5, 0, 21, 64).correct == "identical"
    assert tour.equivariance(9e-6, 1e-5, 3, 21, 64).correct == "identical"
    assert tour.equivariance(0.4, 1e-5, 21, 21, 64).correct == "border"
    assert tour.equivariance(0.4, 1e-5, 30, 21, 64).correct == "everywhere"


def test_invariance_picks_the_chain_furthest_from_a_shifted_copy_at_odd_shifts():
    rows = []
    for chain, odd in (("conv + stride 2", 0.6), ("conv + max-pool 2", 0.5), ("conv + blur-pool 2 (anti-aliased)", 0.2)):
        rows += [{"chain": chain, "shift_px": s, "error": 0.0 if s % 2 == 0 else odd + 0.1 * (s == 3)}
                 for s in range(5)]
    rows.append({"chain": "conv + stride 2", "shift_px": 5, "error": float("nan")})  # nothing to compare: skipped
    errors = tour.odd_shift_errors(rows)
    assert errors["conv + stride 2"] == pytest.approx((0.6 + 0.7) / 2)
    a = tour.invariance(errors)
    assert a.correct == "stride" and a.values["best"] == "blur_pool"
    errors["conv + max-pool 2"] = 0.9
    assert tour.invariance(errors).correct == "max_pool"


def test_one_pixel_counts_models_that_change_their_answer_between_neighbours():
    steady, flips_twice = np.array([3, 3, 3, 3]), np.array([3, 4, 3, 3])
    a = tour.one_pixel({"cnn": steady, "vit": steady, "cnn-center": flips_twice, "vit-center": steady})
    assert a.correct == "one_or_two" and a.values["changed"] == 1 and a.values["flips"]["cnn-center"] == 2
    assert a.values["pairs"] == 3
    assert tour.one_pixel({m: steady for m in "abcd"}).correct == "none"
    assert tour.one_pixel({m: flips_twice for m in "abc"} | {"d": steady}).correct == "three_or_four"


def test_centre_keeps_means_losing_under_ten_points():
    near = {"cnn": 0.99, "vit": 0.97}
    assert tour.centre(near, {"cnn": 0.14, "vit": 0.93}).correct == "vit"
    assert tour.centre(near, {"cnn": 0.95, "vit": 0.50}).correct == "cnn"
    assert tour.centre(near, {"cnn": 0.95, "vit": 0.95}).correct == "both"
    assert tour.centre(near, {"cnn": 0.50, "vit": 0.50}).correct == "neither"
    assert tour.centre(near, {"cnn": 0.89, "vit": 0.87 - 1e-9}).correct == "cnn"  # 10.0 points lost: not kept


def _hunger(cnn, vit, cnn_aug, vit_aug, n=1_000):
    return {"cnn": {n: (cnn, 0.0, 1)}, "vit": {n: (vit, 0.0, 1)}, "cnn + shift aug": {n: (cnn_aug, 0.0, 1)},
            "vit + shift aug": {n: (vit_aug, 0.0, 1)}}


def test_data_reads_both_comparisons_at_the_asked_size():
    a = tour.data(_hunger(0.224, 0.408, 0.754, 0.992))
    assert a.correct == "vit_vit" and a.notes == ("both_poor",)
    assert tour.data(_hunger(0.90, 0.60, 0.95, 0.99)).correct == "cnn_vit"
    assert tour.data(_hunger(0.90, 0.60, 0.95, 0.90)) == tour.Answer("cnn_cnn", {
        "n": 1_000, "cnn": 0.90, "vit": 0.60, "cnn_aug": 0.95, "vit_aug": 0.90}, ())
    assert tour.data(_hunger(0.9, 0.6, 0.95, 0.9, n=2_000)) is None  # nothing converged at N = 1k
    partial = _hunger(0.9, 0.6, 0.95, 0.9)
    del partial["vit + shift aug"]
    assert tour.data(partial) is None


def _pre(scratch_cnn, fine_cnn, scratch_vit, fine_vit, n=100):
    return {("cnn", "scratch"): {n: (scratch_cnn, 0, 1)}, ("cnn", "finetune"): {n: (fine_cnn, 0, 1)},
            ("vit", "scratch"): {n: (scratch_vit, 0, 1)}, ("vit", "finetune"): {n: (fine_vit, 0, 1)}}


def test_pretraining_compares_the_gains_over_scratch():
    s = _pre(0.50, 0.70, 0.30, 0.80)
    s[("cnn", "scratch")][50] = (0.4, 0, 1)  # a size not every series has is not a common size
    assert tour.pretraining_size(s) == 100
    a = tour.pretraining(s, 100)
    assert a.correct == "vit" and a.values["vit_gain"] == pytest.approx(50) and a.values["cnn_gain"] == pytest.approx(20)
    assert tour.pretraining(_pre(0.3, 0.8, 0.5, 0.6), 100).correct == "cnn"
    assert tour.pretraining(_pre(0.5, 0.51, 0.5, 0.515), 100).correct == "neither"
    assert tour.pretraining_size({("cnn", "scratch"): {100: (0.5, 0, 1)}}) is None


def test_learns_compares_each_head_with_half_of_uniform_attention():
    uniform = 32.6
    assert tour.learns(np.array([33.2, 31.9, 31.3]), uniform).correct == "far"
    assert tour.learns(np.array([5.0, 8.0]), uniform).correct == "near"
    a = tour.learns(np.array([5.0, 30.0]), uniform)
    assert a.correct == "mixed" and a.values["local"] == 1 and a.notes == ("paper",)
