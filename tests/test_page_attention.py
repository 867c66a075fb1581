"""AppTest runs of pages/attention.py: with the real embedded ViT (once its weights exist) and with
random-weight stand-ins of the embedded architectures, so the page is exercised either way."""
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core import attention as att
from core import models
from core.card import model_card
from ui.attention_views import all_heads_frame, head_maps, heads_image, token_sequence_image

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

    # the last section: every embedded ViT side by side, with its model card's accuracy
    vits = [n for n, spec in models.EMBEDDED.items() if spec.kind == "vit"]
    table, locality = at.table[-2].value, at.table[-1].value
    assert table["model"].tolist() == vits and locality["model"].tolist() == vits
    card = model_card()["models"]
    assert table["test accuracy"].tolist() == [f"{card[n]['test_accuracy']['full_frame']:.1%}" for n in vits]
    assert list(locality.columns) == ["model", "locality", "locality of what training added"]
    reading = at.info[-1].value
    assert reading.startswith("Layer 1 ") and "px for uniform attention" in reading


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


def _through_the_entry_file() -> AppTest:
    """The page inside the app's navigation (its link to the explanations page needs the other pages)."""
    at = AppTest.from_file(str(Path(PAGE).parents[1] / "streamlit_app.py"))
    at.switch_page("pages/attention.py")
    return at


def test_cnn_gets_a_message_and_a_cam(random_models):
    at = _through_the_entry_file()
    at.query_params["model"] = "cnn"
    _run(at)
    assert any("CNN" in i.value for i in at.info)
    assert not at.error
    captions = [img.caption for el in at.get("image") for img in el.proto.imgs]
    assert any(c.startswith("CAM of the top class: 2×2 feature cells") for c in captions), captions
    assert any(link.proto.page.endswith("explain") or "explain" in link.proto.page for link in at.get("page_link"))


def test_the_cnn_view_speaks_chinese(random_models):
    at = _through_the_entry_file()
    at.query_params.update({"model": "cnn", "lang": "zh"})
    _run(at)
    infos = [i.value for i in at.info]
    assert any(i.startswith("**cnn** 是 CNN，不是 Vision Transformer") for i in infos), infos
    captions = [img.caption for el in at.get("image") for img in el.proto.imgs]
    assert any(c.startswith("得分最高类别的类激活图：") for c in captions), captions
    assert list(at.get("vega_lite_chart")) and not at.error


def test_the_view_speaks_chinese_with_the_numbers(random_models):
    at = AppTest.from_file(PAGE)
    at.query_params.update({"lang": "zh", "layer": "3", "head": "2", "query": "10"})
    _run(at)
    head = at.selectbox(key="att-head")
    assert head.value == 2 and head.options[:2] == ["各头平均", "头 1"]
    assert head.index == 2  # the option labels do not depend on the thread that asks for them (AppTest's)
    assert at.selectbox(key="att-query").options[10] == "图像块 10（第 2 行，第 2 列）"
    assert at.selectbox(key="att-query").index == 10
    captions = [c.value for c in at.caption]
    assert any(c.startswith("第 3 层，头 2，查询 **图像块 10（第 2 行，第 2 列）**（已框出）。它对前缀 token（CLS）的注意力：")
               for c in captions), captions
    assert any(c.startswith("虚线：") and "px（第 6 层）" in c for c in captions), captions
    fusion, over = at.radio(key="att-fusion"), at.radio(key="att-over")
    assert fusion.options == ["平均", "最大", "最小"] and fusion.index == 0
    assert over.options == ["这张图像", "32 张样例图像"] and over.index == 0


def test_the_chinese_view_follows_its_widgets(random_models):
    at = AppTest.from_file(PAGE)
    at.query_params["lang"] = "zh"
    # widget values set before the run: AppTest words the model picker's options again for a rerun outside the
    # script run, in a language it cannot know there
    at.session_state["att-fusion"] = "max"
    at.session_state["att-discard"] = 0.5
    at.session_state["att-over"] = "32 sample images"
    _run(at)
    assert not at.error
    captions = [img.caption for el in at.get("image") for img in el.proto.imgs]
    assert "6 层的注意力展开（最大，丢弃 50%）" in captions, captions



def test_every_heads_map_is_stretched_on_its_own_and_drawn_as_one_tile():
    """2 layers x 2 heads on a 2x2 grid, one prefix token: a head that attends to one patch maps to 1 there and 0
    elsewhere; a head that attends evenly has nothing to stretch (all 0, no division by zero)."""
    geo = att.ViTGeometry(grid_size=(2, 2), patch_size=(8, 8), num_prefix_tokens=1, prefix_names=("CLS",), depth=2,
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
    chinese = heads_image(relative, tile=72, lang="zh")  # the same tiles, labelled in Chinese
    assert chinese.shape == picture.shape
    assert np.array_equal(chinese[30:, 80:], picture[30:, 80:]) and not np.array_equal(chinese, picture)


def test_the_phones_token_sequence_wraps_ten_a_line_in_reading_order():
    """The embedded ViT's 65 tokens (CLS, then 8 x 8 patches of 8 px) ten a line: 7 lines of 40-px steps (36-px tiles,
    4-px gaps) with 19-px label rows for 16-px type; the last token, patch 64, is line 7's fifth tile and shows the
    image's bottom-right patch, the first is the class token's blue tile."""
    geo = att.ViTGeometry(grid_size=(8, 8), patch_size=(8, 8), num_prefix_tokens=1, prefix_names=("CLS",), depth=6,
                          num_heads=3)
    shown = np.random.default_rng(0).random((3, 64, 64))
    picture = np.asarray(token_sequence_image(shown, geo, 10, font_px=16))
    step_down = 36 + 19 + 4
    assert picture.shape == (7 * step_down, 10 * 40, 3)
    assert tuple(picture[0, 35]) == (70, 90, 160)  # the class token's tile, clear of its name
    bottom_right = np.round(shown[:, 56, 56] * 255)
    assert np.allclose(picture[6 * step_down, 4 * 40], bottom_right, atol=1)
    assert (picture[6 * step_down, 5 * 40:] == 255).all()  # nothing after the last token


def test_a_second_visitor_rebuilds_no_chart_or_picture(random_models, monkeypatch):
    """Charts and pictures are made once per input for every session (ui.charts): a second session opening the same
    view builds none of them again; its moving the layer builds the one chart that changed; its CSVs are still the
    tables shown."""
    from ui import attention_views as views

    built = []
    for name in ("clickable_attention", "heads_image", "patch_grid_image", "token_sequence_image", "overlay_image",
                 "similarity_tiles", "distance_chart", "comparison_chart", "prediction_chart"):
        monkeypatch.setattr(views, name, lambda *a, _f=getattr(views, name), _n=name, **k: built.append(_n) or _f(*a, **k))
    _run(AppTest.from_file(PAGE))
    first = sorted(built)
    assert "clickable_attention" in first and "heads_image" in first and first.count("overlay_image") == 2
    built.clear()
    downloads = {}
    monkeypatch.setattr(st, "download_button", lambda label, data, file_name, *a, **k: downloads.update({file_name: data}))
    at = _run(AppTest.from_file(PAGE))  # another session
    assert built == []
    at.slider(key="att-layer").set_value(2)
    _run(at)
    assert built == ["clickable_attention"]
    csv = downloads["attention_L2_mean_qCLS.csv"]().decode().splitlines()
    assert csv[0] == "patch,row,col,attention,relative" and len(csv) == 1 + 64
