"""The cached calls the tour's steps read (core.tour's `lab`): the very caches the pages fill and ui.warmup warms, at
each page's default settings, so a step measures what its page shows and costs nothing once the page has been seen.
Core decides and words; this module only finds the numbers, the pages' settings and their colours."""
from __future__ import annotations

import numpy as np
import pandas as pd

from core import equivariance
from ui import attention_views, biases_views, data_views, equivariance_views, sensitivity_views
from ui.images import sample
from ui.models import cached_model

model = cached_model  # name -> loaded model; raises core.models.ModelError
locality = biases_views.locality  # (cnn, vit) -> ERF per stage and attention per layer
order = biases_views.order  # (cnn, vit) -> accuracy as patches are shuffled and dropped, or None
position_predictions = data_views.position_predictions  # () -> (predictions by model, labels, centres, shipped)
batch_distance = attention_views.batch_distance  # model -> mean attention distance [layers, heads]
sweep = sensitivity_views.cached_sweep  # (scene, models) -> probabilities per model along the scene's path
chain_colour = equivariance_views.chain_colour  # a chain's name -> its colour on the equivariance page
distance_chart = data_views.distance_chart  # the data page's accuracy-by-distance chart (the centre step draws it)


def series_colour(series: str) -> str:
    return data_views.SERIES_COLOURS[series]


def defaults(page: str) -> dict:
    """A page's default settings (the ones its link opens it at)."""
    return {"equivariance": equivariance_views.DEFAULTS, "biases": biases_views.DEFAULTS,
            "attention": attention_views.DEFAULTS}.get(page, {})


def _equivariance_inputs() -> tuple[np.ndarray, np.ndarray, dict]:
    d = equivariance_views.DEFAULTS
    img = sample(d["image"]).numpy()
    return img, equivariance_views.kernel_array(equivariance.kernel_preset(d["kernel"], d["size"], d["seed"])), d


def comparison() -> tuple[np.ndarray, equivariance.Comparison]:
    """The equivariance page's default image and its conv-then-shift / shift-then-conv comparison."""
    img, kernel, d = _equivariance_inputs()
    return img, equivariance_views.compare(img, kernel, d["dx"], d["dy"], d["mode"])


def chain_curves() -> pd.DataFrame:
    """The equivariance page's default error-against-shift rows, one per (chain, shift)."""
    img, kernel, _ = _equivariance_inputs()
    return equivariance_views.curves(img, kernel, tuple(equivariance_views.default_chains(kernel)))


def sensitivity_scene():
    """The sensitivity page's default scene, its path and its models."""
    scene = sensitivity_views.DEFAULT_SCENE
    return scene, sensitivity_views.scene_path(scene), list(sensitivity_views.DEFAULT_MODELS)


def query(page: str) -> dict[str, str]:
    """The query parameters that open `page` at the settings its steps were measured at (each page's own defaults,
    so the link and the answer cannot drift apart)."""
    if page == "biases":
        return {"bi-cnn": biases_views.DEFAULTS["cnn"], "bi-vit": biases_views.DEFAULTS["vit"]}
    if page == "equivariance":
        return {k: str(equivariance_views.DEFAULTS[k]) for k in ("image", "kernel", "size", "dx", "dy", "mode")}
    if page == "sensitivity":
        scene = sensitivity_views.DEFAULT_SCENE
        return {"shape": scene.shape, "path": scene.path, "models": ",".join(sensitivity_views.DEFAULT_MODELS)}
    if page == "attention":
        return {"model": attention_views.DEFAULTS["model"]}
    return {}
