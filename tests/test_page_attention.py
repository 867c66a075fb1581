"""AppTest runs of pages/attention.py: with the real embedded ViT (once its weights exist) and with
random-weight stand-ins of the embedded architectures, so the page is exercised either way."""
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core import models

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "attention.py")


def _clear_caches():
    st.cache_data.clear()
    st.cache_resource.clear()


def _run(at: AppTest) -> AppTest:
    at.run(timeout=120)
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_page_runs_with_the_embedded_vit():
    try:
        models.load_model("vit")
    except models.ModelError as e:
        pytest.skip(f"embedded ViT not available yet: {e}")
    _clear_caches()
    at = _run(AppTest.from_file(PAGE))
    assert not at.error, [e.value for e in at.error]
    assert at.slider(key="att-layer").value == at.slider(key="att-layer").max  # last layer by default


@pytest.fixture
def random_models(monkeypatch):
    """Embedded architectures with random weights, served under the embedded names."""
    real = models.load_model
    monkeypatch.setattr(models, "load_model", lambda name, *a, **k: real(name, pretrained=False))
    _clear_caches()
    yield
    _clear_caches()


def test_page_widgets_drive_the_view_and_the_url(random_models):
    at = _run(AppTest.from_file(PAGE))
    assert not at.error, [e.value for e in at.error]
    layers = at.slider(key="att-layer")
    assert layers.max == 6 and layers.value == 6
    assert at.selectbox(key="att-query").value == 0  # the class token
    at.slider(key="att-layer").set_value(2)
    at.selectbox(key="att-head").set_value(3)
    at.selectbox(key="att-query").set_value(1 + 9)  # patch 10
    _run(at)
    assert dict(at.query_params)["layer"] in ("2", ["2"])
    qp = {k: (v[0] if isinstance(v, list) else v) for k, v in at.query_params.items()}
    assert (qp["layer"], qp["head"], qp["query"]) == ("2", "3", "10")
    at.radio(key="att-fusion").set_value("max")
    at.slider(key="att-discard").set_value(0.5)
    at.radio(key="att-over").set_value("32 sample images")
    _run(at)
    assert not at.error


def test_bookmarked_view_is_restored(random_models):
    at = AppTest.from_file(PAGE)
    at.query_params.update({"layer": "3", "head": "2", "query": "17"})
    _run(at)
    assert at.slider(key="att-layer").value == 3
    assert at.selectbox(key="att-head").value == 2
    assert at.selectbox(key="att-query").value == 17  # patch 17 follows the class token


def test_cnn_gets_a_message_and_a_cam(random_models):
    at = AppTest.from_file(PAGE)
    at.query_params["model"] = "cnn"
    _run(at)
    assert any("CNN" in i.value for i in at.info)
    assert not at.error
    captions = [img.caption for el in at.get("image") for img in el.proto.imgs]
    assert any(c.startswith("CAM of the top class") for c in captions), captions


def test_every_heads_map_is_stretched_on_its_own_and_drawn_as_one_tile():
    """2 layers x 2 heads on a 2x2 grid, one prefix token: a head that attends to one patch maps to 1 there and 0
    elsewhere; a head that attends evenly has nothing to stretch (all 0, no division by zero)."""
    import numpy as np

    from core.attention import ViTGeometry
    from ui.attention_views import all_heads_frame, head_maps, heads_image

    geo = ViTGeometry(grid_size=(2, 2), patch_size=(8, 8), num_prefix_tokens=1, prefix_names=("CLS",), depth=2,
                      num_heads=2)
    attn = np.full((2, 2, 5, 5), 0.2, dtype=np.float32)  # every token attends evenly to all five
    attn[1, 0, 0] = [0.1, 0.0, 0.0, 0.9, 0.0]  # layer 2, head 1: the CLS query looks at patch 3 (row 2, col 1)
    maps, relative = head_maps(attn, 0, geo)
    assert maps.shape == relative.shape == (2, 2, 2, 2)
    assert np.allclose(maps[1, 0], [[0, 0], [0.9, 0]])  # the prefix token's share is not on the grid
    assert np.allclose(relative[1, 0], [[0, 0], [1, 0]])
    assert np.allclose(relative[0, 0], 0) and np.allclose(relative[1, 1], 0)
    frame = all_heads_frame(maps, relative)
    assert len(frame) == 16 and frame.query("layer == 2 and head == 1 and row == 2 and col == 1").relative.item() == 1
    picture = heads_image(relative, tile=72)
    assert picture.ndim == 3 and picture.shape[2] == 3
    assert picture.shape[1] == 80 + 2 * 72 + 4 and picture.shape[0] == 30 + 2 * 72 + 4  # labels + 2 x 2 tiles, a gap
