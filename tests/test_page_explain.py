"""The explanations page as a user drives it (streamlit.testing AppTest)."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "explain.py")


def captions(at) -> list[str]:
    """The label under each map (method, map size, both areas)."""
    return [m.value for m in at.markdown if "map)" in m.value or "的图）" in m.value]


@pytest.fixture
def app():
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def test_the_default_view_explains_both_models_top_class_with_every_map(app):
    said = [m.value for m in app.markdown]
    # the star-and-cross scene: both embedded models answer "cross" (64 % and 56 %)
    assert any(s.startswith("**cnn** explains **cross**") for s in said), said
    assert any(s.startswith("**vit** explains **cross**") for s in said), said
    shown = captions(app)
    assert [c.split(" (")[0] for c in shown] == ["**CAM**", "**Grad-CAM**", "**Attention**", "**Rollout**", "**Grad-CAM**",
                                                 "**Relevance**"]
    assert all("2×2 map" in c for c in shown[:2]) and all("8×8 map" in c for c in shown[2:])  # stride 32, patch 8
    reading = app.info[0].value
    assert "Most faithful here" in reading and "Least faithful" in reading
    assert len(app.dataframe[0].value) == 6
    assert len(app.get("vega_lite_chart")) == 1


def test_another_class_is_explained_by_both_and_bookmarked(app):
    app.selectbox(key="ex-class").set_value("star").run()
    assert not app.exception
    said = [m.value for m in app.markdown]
    assert any(s.startswith("**cnn** explains **star**") for s in said)
    assert any(s.startswith("**vit** explains **star**") for s in said)
    assert app.query_params["class"] in ("star", ["star"])


def test_a_bookmarked_class_opens_the_page_and_a_bad_one_falls_back_to_the_top_class():
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["class"] = "heart"
    at.run()
    assert any(m.value.startswith("**vit** explains **heart**") for m in at.markdown)
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["class"] = "<script>"
    at.run()
    assert not at.exception and any(m.value.startswith("**vit** explains **cross**") for m in at.markdown)


def test_the_chinese_page_words_the_reading_and_the_maps():
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["lang"] = "zh"
    at.run()
    assert not at.exception
    assert any(m.value.startswith("**vit** 解释的是 **十字**") for m in at.markdown)
    assert "这里最忠实的是" in at.info[0].value
    assert captions(at)[2].startswith("**注意力**（8×8 的图）")
