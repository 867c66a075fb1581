"""Deletion and insertion on a common grid (core/faithfulness.py), against hand-computed cases and facts that hold
whatever the code does: a map that ranks the only evidence first beats one that ranks it last, a flat map scores
zero, two maps that pool to the same cells score the same, and the verdict claims only what both baselines carry."""
import numpy as np
import pytest
import torch
from torch import nn

from core import faithfulness, models

OBJECT = (slice(0, 32), slice(32, 64))  # the top-right cell of a 2x2 grid over 64x64


class ObjectMeanNet(nn.Module):
    """Class 0's logit is 8 x (mean brightness over OBJECT - 0.5); class 1's is 0: the class's probability depends on
    nothing but the object's pixels, and rises with their brightness."""

    def forward(self, x):
        m = x[:, :, OBJECT[0], OBJECT[1]].mean((1, 2, 3))
        return torch.stack([8 * (m - 0.5), torch.zeros_like(m)], 1)


def object_model() -> models.LoadedModel:
    return models.LoadedModel("toy", ObjectMeanNet().eval(), "cnn", (64, 64), ["object", "rest"], (0.0,) * 3,
                              (1.0,) * 3)


def object_image() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    img = 0.1 * torch.rand(3, 64, 64, generator=g)  # a dark, faintly noisy background
    img[:, OBJECT[0], OBJECT[1]] = 0.9
    return img


def test_a_map_that_ranks_the_object_first_beats_one_that_ranks_it_last():
    object_first = np.array([[0.2, 1.0], [0.1, 0.0]])
    background_first = np.array([[1.0, 0.0], [0.5, 0.7]])
    f = faithfulness.measure(object_model(), object_image(), 0, {"object": object_first, "bg": background_first},
                             (2, 2))
    for kind in faithfulness.BASELINES:
        good, bad = f["object"].curves[kind], f["bg"].curves[kind]
        assert good.deletion_auc < bad.deletion_auc and good.insertion_auc > bad.insertion_auc, kind
        assert good.deletion[1] < 1 and bad.deletion[1] == 1  # deleting a background cell leaves the object as it was
    assert faithfulness.ahead(f["object"], f["bg"]) and not faithfulness.ahead(f["bg"], f["object"])


def test_a_flat_map_scores_zero_under_every_baseline():
    """A flat map ranks nothing: its one step deletes everything, so deletion runs straight from 1 to the baseline's
    level and insertion straight back: equal areas."""
    f = faithfulness.measure(object_model(), object_image(), 0, {"flat": np.full((8, 8), 0.3)}, (2, 2))["flat"]
    np.testing.assert_array_equal(f.cells, np.full((2, 2), 0.3, dtype=np.float32))
    for kind in faithfulness.BASELINES:
        c = f.curves[kind]
        np.testing.assert_allclose(c.fractions, [0, 1])
        assert c.score == pytest.approx(0.0, abs=1e-9), kind


def test_a_2x2_map_and_an_8x8_map_that_pool_to_the_same_cells_score_the_same():
    coarse = np.array([[0.1, 0.9], [0.4, 0.6]])
    rng = np.random.default_rng(0)
    fine = np.kron(coarse, np.ones((4, 4))) + rng.normal(0, 0.05, (8, 8))
    for i in range(2):  # remove the noise's mean from each 4x4 block, so each block averages to its coarse cell
        for j in range(2):
            block = fine[4 * i:4 * i + 4, 4 * j:4 * j + 4]
            block -= block.mean() - coarse[i, j]
    np.testing.assert_allclose(faithfulness.pooled(fine, (2, 2)), coarse, atol=1e-6)
    f = faithfulness.measure(object_model(), object_image(), 0, {"2x2": coarse, "8x8": fine}, (2, 2))
    for kind in faithfulness.BASELINES:
        assert f["2x2"].score(kind) == pytest.approx(f["8x8"].score(kind), abs=1e-7), kind


def test_the_common_grid_is_the_coarsest_and_pooling_averages_its_blocks():
    assert faithfulness.common_grid([(2, 2), (8, 8), (8, 8)]) == (2, 2)
    m = np.arange(16.0).reshape(4, 4)
    np.testing.assert_allclose(faithfulness.pooled(m, (2, 2)), [[2.5, 4.5], [10.5, 12.5]])  # e.g. (0+1+4+5)/4


def test_cells_tile_an_image_whose_side_they_do_not_divide():
    cells = faithfulness.cell_of_pixel((3, 2), (7, 4))
    assert cells[:, 0].tolist() == [0, 0, 0, 2, 2, 4, 4]  # row r in cell row floor(3r/7)
    assert cells[0].tolist() == [0, 0, 1, 1]


def test_perturbation_batch_on_a_hand_made_case():
    x = torch.arange(4.0).reshape(1, 2, 2)  # pixels 0, 1, 2, 3; a 2x2 grid puts one pixel in each cell
    fractions, batch = faithfulness.perturbation_batch(x, np.array([[0.1, 0.9], [0.5, 0.0]]), torch.full_like(x, -1))
    np.testing.assert_allclose(fractions, [0, 0.25, 0.5, 0.75, 1])
    deletion, insertion = batch[:5, 0].reshape(5, 4), batch[5:, 0].reshape(5, 4)
    assert deletion.tolist() == [[0, 1, 2, 3], [0, -1, 2, 3], [0, -1, -1, 3], [-1, -1, -1, 3], [-1, -1, -1, -1]]
    assert insertion.tolist() == [[-1, -1, -1, -1], [-1, 1, -1, -1], [-1, 1, 2, -1], [0, 1, 2, -1], [0, 1, 2, 3]]


def test_cells_of_equal_value_are_deleted_in_one_step():
    x = torch.arange(4.0).reshape(1, 2, 2)
    fractions, batch = faithfulness.perturbation_batch(x, np.array([[1.0, 0.0], [0.0, 0.0]]), torch.full_like(x, -1))
    np.testing.assert_allclose(fractions, [0, 0.25, 1])
    assert batch[1, 0].reshape(4).tolist() == [-1, 1, 2, 3]


def test_curves_are_relative_to_the_untouched_image_and_their_areas_are_trapezoids():
    c = faithfulness.curves(torch.tensor([0.5, 0.25, 0.0, 0.0, 0.5, 0.5]), np.array([0, 0.5, 1]))
    assert c.untouched == 0.5
    np.testing.assert_allclose(c.deletion, [1, 0.5, 0])
    np.testing.assert_allclose(c.insertion, [0, 1, 1])
    assert c.deletion_auc == pytest.approx(0.5 * (1 + 0.5) / 2 + 0.5 * 0.5 / 2)
    assert c.insertion_auc == pytest.approx(0.5 * 0.5 + 0.5)
    assert c.rise == pytest.approx(0.0)


def scored(model: str, method: str, blur: float, mean: float, rise: float = 0.0) -> faithfulness.Scored:
    """A map with the given scores (the areas set directly); `rise`: its deletion ends that far above the start."""
    def c(score):
        return faithfulness.Curves(np.array([0.0, 1.0]), np.array([1.0, 1.0 + rise]), np.array([0.0, 1.0]), 0.5,
                                   0.1, 0.1 + score)
    return faithfulness.Scored(model, method, faithfulness.Faithfulness(np.zeros((1, 1)), {"blur": c(blur),
                                                                                          "mean": c(mean)}))


def keys(messages):
    return [m.key.rsplit(".", 1)[1] for m in messages]


def test_a_map_is_ahead_only_when_both_baselines_carry_it_past_the_margin():
    a, b = scored("cnn", "cam", 0.6, 0.6), scored("vit", "rollout", 0.4, 0.58)  # the mean colour says tie
    assert keys(faithfulness.reading([a, b])) == ["no_difference"]
    a, b = scored("cnn", "cam", 0.6, 0.6), scored("vit", "rollout", 0.56, 0.56)  # within the margin
    assert keys(faithfulness.reading([a, b])) == ["no_difference"]
    a, b = scored("cnn", "cam", 0.6, 0.6), scored("vit", "rollout", 0.2, 0.3)
    out = faithfulness.reading([b, a])
    assert keys(out) == ["ahead", "behind"]
    assert out[0].values["maps"].values["model"] == "cnn" and out[1].values["maps"].values["model"] == "vit"


def test_the_groups_named_ahead_and_behind_are_each_past_every_map_outside_them():
    maps = [scored("vit", "attention", 0.8, 0.8), scored("vit", "rollout", 0.78, 0.79),
            scored("cnn", "cam", 0.5, 0.5), scored("cnn", "gradcam", 0.2, 0.2)]
    out = faithfulness.reading(maps)
    assert keys(out) == ["ahead", "behind"]
    assert "rollout" in str(out[0]).lower() and "attention" in str(out[0]).lower()  # the two tie, so both lead
    assert "**Grad-CAM**" in str(out[1]) and "**CAM**" not in str(out[1])


def test_a_perturbation_that_raises_the_class_is_named_as_the_distractor_effect():
    out = faithfulness.reading([scored("cnn", "cam", 0.6, 0.6, rise=0.5), scored("vit", "rollout", 0.6, 0.6)])
    assert keys(out) == ["no_difference", "distractor"]
    assert out[1].values["peak"] == pytest.approx(1.5)
