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


def test_the_default_view_explains_one_star_with_every_map_on_one_grid(app):
    said = [m.value for m in app.markdown]
    # one star, as in training: both embedded models answer "star" (99.9 %)
    assert any(s.startswith("**cnn** explains **star**") for s in said), said
    assert any(s.startswith("**vit** explains **star**") for s in said), said
    shown = captions(app)
    assert [c.split(" (")[0] for c in shown] == ["**CAM**", "**Grad-CAM**", "**Attention**", "**Rollout**", "**Grad-CAM**",
                                                 "**Relevance**"]
    assert all("2×2 map" in c for c in shown[:2]) and all("8×8 map" in c for c in shown[2:])  # stride 32, patch 8
    assert any("**2×2 grid**" in s for s in said)  # every map scored on the CNN's grid
    reading = app.info[0].value
    assert reading.startswith("No map is ahead of another by more than 0.05"), reading  # all score 0.75 / 0.70-0.72
    assert "Most faithful" not in reading
    assert len(app.table[0].value) == 6  # the scores, one row a map
    assert len(app.get("vega_lite_chart")) == 4  # deletion and insertion for each model


def test_the_two_object_image_is_the_labelled_distractor_case():
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["ex-image"] = "star and cross (64×64)"
    at.run()
    assert not at.exception
    assert at.info[0].value.startswith("**Two objects: the distractor case.**")
    reading = at.info[1].value
    # inserting the cross's cell alone lifts p(cross) to about 1.6 times the untouched image's, for both models
    assert "raised the class's probability above the untouched image's" in reading, reading


def test_another_class_is_explained_by_both_and_bookmarked(app):
    pictures = [i.proto.imgs[0].url for i in app.get("image")]  # CAM, Grad-CAM, Attention, Rollout, ...
    curves = [[d.data.data for d in c.proto.datasets] for c in app.get("vega_lite_chart")]
    app.selectbox(key="ex-class").set_value("cross").run()
    assert not app.exception
    # pictures and charts are made once per input and shared: the class-specific maps are drawn anew, the ViT's
    # attention and rollout, which no class changes, are the same pictures; every curve is the new class's
    now = [i.proto.imgs[0].url for i in app.get("image")]
    assert now[0] != pictures[0] and now[1] != pictures[1] and now[2:4] == pictures[2:4]
    assert all(c != [d.data.data for d in n.proto.datasets] for c, n in zip(curves, app.get("vega_lite_chart")))
    said = [m.value for m in app.markdown]
    assert any(s.startswith("**cnn** explains **cross**") for s in said)
    assert any(s.startswith("**vit** explains **cross**") for s in said)
    assert app.query_params["class"] in ("cross", ["cross"])


def test_a_bookmarked_class_opens_the_page_and_a_bad_one_falls_back_to_the_top_class():
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["class"] = "heart"
    at.run()
    assert any(m.value.startswith("**vit** explains **heart**") for m in at.markdown)
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["class"] = "<script>"
    at.run()
    assert not at.exception and any(m.value.startswith("**vit** explains **star**") for m in at.markdown)


def test_the_chinese_page_words_the_reading_and_the_maps():
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["lang"] = "zh"
    at.run()
    assert not at.exception
    assert any(m.value.startswith("**vit** 解释的是 **星形**") for m in at.markdown)
    assert at.info[0].value.startswith("没有哪张图在两种基线下都领先另一张超过 0.05")
    assert captions(at)[2].startswith("**注意力**（8×8 的图）")


def test_another_image_in_the_same_session_is_read_and_scored_anew(app):
    """What the page makes once per input is keyed by the image: the star's readings are not the two objects'."""
    star_scores = app.table[0].value
    app.selectbox(key="ex-image").set_value("star and cross (64×64)").run()
    assert not app.exception
    assert app.info[0].value.startswith("**Two objects: the distractor case.**")
    assert "raised the class's probability above the untouched image's" in app.info[1].value
    assert not app.table[0].value.equals(star_scores)


def test_the_scores_are_written_with_three_decimals_most_faithful_first(app):
    scores = app.table[0].value
    blur = [float(v) for v in scores["score, blur ↑"]]
    assert blur == sorted(blur, reverse=True)
    # every score is insertion area minus deletion area (Petsiuk et al.'s two areas), to the shown decimals
    for _, row in scores.iterrows():
        assert all(len(row[c].split(".")[1]) == 3 for c in ("deletion area ↓", "insertion area ↑", "score, blur ↑"))
        assert abs(float(row["insertion area ↑"]) - float(row["deletion area ↓"]) - float(row["score, blur ↑"])) <= 0.0015
