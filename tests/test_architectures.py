"""The shipped facts of the grid's architectures (core/results/grid_architectures.json, which the data page reads
instead of building six models) are what the architectures give now, and the ViT's baseline is uniform attention on
its own 8 x 8 grid of 8-px patches with one class token."""
import pytest

from core import attention as att
from core.experiments import architectures
from core.experiments.hunger_results import MODELS


def test_the_shipped_facts_are_the_architectures():
    shipped = architectures.load()
    assert shipped is not None, "run: python -m core.experiments architectures"
    assert set(shipped["models"]) == set(MODELS)
    measured = architectures.measure()
    assert shipped["models"] == measured["models"]  # whole numbers: exactly
    assert shipped["vit_uniform_distance"] == pytest.approx(measured["vit_uniform_distance"])


def test_the_vit_baseline_is_uniform_attention_on_its_grid():
    assert architectures.load()["vit_uniform_distance"] == pytest.approx(att.uniform_attention_distance(8, 8, 1))
