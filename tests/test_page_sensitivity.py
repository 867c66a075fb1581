"""The sensitivity page in AppTest with the real embedded models."""
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch
from playwright.sync_api import sync_playwright
from streamlit.testing.v1 import AppTest
from test_browser import ARGS, CHROMIUM, IDLE, server  # noqa: F401  (a fixture)

from core import models, shapes
from core import sensitivity as sen
from core.messages import catalogue

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "sensitivity.py")


@pytest.fixture()
def app():
    at = AppTest.from_file(PAGE, default_timeout=180)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _numbers(at):
    """The two tables of numbers (how often right and how sure; how steady) joined on the model."""
    right, steady = at.dataframe[0].value, at.dataframe[1].value
    assert list(right["model"]) == list(steady["model"])
    table = right.merge(steady, on="model")
    return table.set_index(table["model"].str.split(":").str[0])


def _chart_table(at):
    chart = at.get("vega_lite_chart")[0]
    ds = chart.proto.datasets[0].data.data if chart.proto.datasets else chart.proto.data.data
    return pa.ipc.open_stream(ds).read_all().to_pandas()


def test_default_sweep_compares_full_frame_and_centre_trained_models(app):
    nums = _numbers(app)
    assert set(nums.index) == {"cnn", "vit", "cnn-center", "vit-center"}
    assert (nums["target"] == "star").all()
    for col in ("accuracy", "min conf.", "max conf."):
        assert ((nums[col] >= 0) & (nums[col] <= 1)).all()
    assert (nums["min conf."] <= nums["max conf."]).all()
    # the default star is what both full-frame models were trained on: they get most positions right; the first
    # screen teaches only if some model is not (the centre-trained ones meet positions they never saw)
    assert (nums.loc[["cnn", "vit"], "accuracy"] > 0.9).all()
    assert nums["accuracy"].min() < 0.9
    assert app.info and "steadiest" in app.info[0].value
    top5 = app.dataframe[2].value
    assert len(top5) == 20 and set(top5["rank"]) == {1, 2, 3, 4, 5}


def test_the_frame_shown_is_the_least_confident_position(app):
    """With nothing clicked the page shows where some model is least sure of the target (checked frame by frame)."""
    caption = app.get("image")[0].proto.imgs[0].caption
    x = int(caption.split("x=")[1].split(",")[0])
    sprite = shapes.make_sprite("star", 20, 0, (0xff / 255, 0xd2 / 255, 0x1e / 255))
    bg = sen.make_background("noisy gradient", (64, 64), 7)
    star = shapes.CLASSES.index("star")
    worst = []
    for name in ("cnn", "vit", "cnn-center", "vit-center"):
        m = models.load_model(name)
        with torch.no_grad():
            p = [m.net(m.preprocess(shapes.composite(bg, sprite, [i], [22])))[0].softmax(-1)[star].item()
                 for i in range(45)]
        worst.append(p)
    assert x == int(np.argmin(np.min(worst, axis=0)))


def test_grid_and_other_paths_run(app):
    for path in ("vertical", "diagonal", "grid"):
        app.radio(key="path").set_value(path)
        app.run()
        assert not app.exception, (path, [e.value for e in app.exception])
        assert not app.error
    nums = _numbers(app)
    assert np.isfinite(nums["jaggedness"]).all()


def test_the_grid_starts_at_its_own_coarser_step_and_a_line_gets_its_step_back(app):
    assert app.slider(key="step").value == 1
    app.radio(key="path").set_value("grid")
    app.run()
    assert app.slider(key="step").value == 4  # the 64-px canvas, a 20-px star: (64 - 20) / 4 + 1 = 12 positions a side
    table = _chart_table(app)
    assert len(table[["x", "y"]].drop_duplicates()) == 12 * 12
    app.radio(key="path").set_value("horizontal")
    app.run()
    assert app.slider(key="step").value == 1


def test_more_models_and_a_missing_timm_model(app):
    app.multiselect(key="models").set_value(["cnn", "cnn-aa", "vit-center"])
    app.text_input(key="custom").set_value("timm:vit_small_patch16_224")
    app.run()
    assert not app.exception
    assert any("vit_small_patch16_224" in e.value for e in app.error)  # clear message, the rest carries on
    assert set(_numbers(app).index) == {"cnn", "cnn-aa", "vit-center"}


def test_no_models_is_a_warning_not_a_crash(app):
    app.multiselect(key="models").set_value([])
    app.run()
    assert not app.exception and app.warning


def test_region_outside_the_image_is_a_clear_error(app):
    app.selectbox(key="shape").set_value("region of an image")
    app.run()
    assert not app.exception and not app.error
    app.number_input(key="rx").set_value(60)
    app.run()
    assert not app.exception
    assert any("does not fit" in e.value for e in app.error)


def test_an_oversized_timm_model_gets_a_message_and_the_page_carries_on(app):
    app.text_input(key="custom").set_value("timm:vit_giant_patch14_clip_224")
    app.run()
    assert not app.exception
    errors = [e.value for e in app.error]
    assert any("1,013 M parameters" in e and "cap of 100 M" in e for e in errors), errors
    assert set(_numbers(app).index) == {"cnn", "vit", "cnn-center", "vit-center"}  # the others still swept


def test_in_chinese_the_page_shows_the_same_numbers_and_reading(app):
    """?lang=zh: the table's headers and classes, the reading and the frame's caption in Chinese, same numbers."""
    zh = AppTest.from_file(PAGE, default_timeout=180)
    zh.query_params["lang"] = "zh"
    zh.run()
    assert not zh.exception, [e.value for e in zh.exception]
    words = catalogue("zh")
    for i in (0, 1):  # both tables of numbers: the model first, the same numbers under Chinese headers
        en_table, zh_table = app.dataframe[i].value, zh.dataframe[i].value
        assert zh_table.columns[0] == words["sensitivity.col.model"]
        np.testing.assert_array_equal(zh_table.select_dtypes("number").to_numpy(),
                                      en_table.select_dtypes("number").to_numpy())
    assert (zh.dataframe[0].value[words["sensitivity.col.target"]] == "星形").all()
    en_reading, zh_reading = app.info[0].value, zh.info[0].value
    assert "最稳定" in zh_reading and "steadiest" not in zh_reading
    numbers = re.compile(r"(?<!-)\d+(?:\.\d+)?")  # not the 1 of "top-1"
    assert sorted(numbers.findall(zh_reading)) == sorted(numbers.findall(en_reading))
    assert zh.get("image")[0].proto.imgs[0].caption.startswith("物体位于 x=")


def test_the_main_controls_are_on_the_page_and_the_finer_ones_in_the_sidebar(app):
    """A phone folds the sidebar away: the shape, the path and the models are picked on the page itself."""
    for kind, key in (("selectbox", "shape"), ("radio", "path"), ("multiselect", "models")):
        assert key in [w.key for w in app.main.get(kind)], key
        assert key not in [w.key for w in app.sidebar.get(kind)], key
    assert "size" in [w.key for w in app.sidebar.get("slider")]


def test_a_region_of_an_image_is_scored_against_each_models_answer_at_the_middle(app):
    """No model was trained on a 'region' class, so each target is its own answer at the middle frame, and the
    table says so in the target's cell."""
    app.selectbox(key="shape").set_value("region of an image")
    app.run()
    assert not app.exception and not app.error
    targets = app.dataframe[0].value["target"]
    assert targets.str.endswith("(its answer at the middle frame)").all(), list(targets)


# --- in a browser: a phone's screen ------------------------------------------------------------------------------
@pytest.mark.browser
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_on_a_phone_nothing_runs_off_the_screen_and_the_controls_are_on_the_page(server, lang):
    """390x844, a touch screen: no sideways scroll, the two tables of numbers and the grid's heatmaps inside the
    screen (two heatmaps a row), and the shape, path and models reachable without opening the sidebar."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            pg = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True).new_page()
            for path in ("horizontal", "grid"):
                pg.goto(f"{server}/sensitivity?lang={lang}&path={path}")
                pg.wait_for_selector("[data-testid='stVegaLiteChart']", timeout=240_000)
                pg.wait_for_selector(IDLE, timeout=240_000)
                assert pg.evaluate("document.documentElement.scrollWidth") <= 390
                for what in ("[data-testid='stVegaLiteChart']", "[data-testid='stDataFrame']"):
                    rights = pg.eval_on_selector_all(what, "es => es.map(e => e.getBoundingClientRect().right)")
                    assert rights and max(rights) <= 390, (path, what, rights)
                # and no table scrolls sideways inside its own box: every column shows
                widths = pg.eval_on_selector_all("[data-testid='stDataFrame'] .dvn-scroller",
                                                 "es => es.map(e => [e.scrollWidth, e.clientWidth])")
                assert widths and all(inner <= box + 1 for inner, box in widths), (path, widths)
            main = pg.locator("[data-testid='stMain']")
            for label in ("sensitivity.shape", "sensitivity.path", "sensitivity.compare"):
                assert main.get_by_text(catalogue(lang)[label], exact=True).first.is_visible(), label
            assert pg.locator("[data-testid='stSidebar'][aria-expanded='true']").count() == 0  # folded on a phone
        finally:
            browser.close()


def test_the_chart_and_the_frame_follow_the_scene(app):
    """The sweep chart and the frame are made once per input and shared by every session: another background
    draws other probabilities and another frame, and the first background its own again."""
    def sweep(at):
        chart = at.get("vega_lite_chart")[0]
        tables = [pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets]
        return next(t for t in tables if "p_target" in t.columns)

    before, frame = sweep(app), app.get("image")[0].proto.imgs[0]
    app.number_input(key="bg_seed").set_value(8).run()
    after, other = sweep(app), app.get("image")[0].proto.imgs[0]
    assert not app.exception and list(after.x) == list(before.x)
    assert not np.allclose(after.p_target, before.p_target)  # the models see another background
    assert other.url != frame.url
    app.number_input(key="bg_seed").set_value(7).run()  # back: the first scene's chart and frame again
    assert sweep(app).p_target.tolist() == before.p_target.tolist()
    assert app.get("image")[0].proto.imgs[0].url == frame.url


def _swept(at) -> list[float]:
    """The sweep chart's probabilities of the target (its dataset with them, beside the boundary rules')."""
    tables = [pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in at.get("vega_lite_chart")[0].proto.datasets]
    return next(t for t in tables if "p_target" in t.columns).p_target.tolist()


def test_another_photo_under_the_same_region_is_swept_anew(app):
    """What the page makes once per scene names a region's photo by its contents: the same rectangle cut from
    another photo is another object, with other probabilities, numbers and frame; the first photo's come back."""
    app.selectbox(key="shape").set_value("region of an image").run()
    cat = (_swept(app), app.dataframe[0].value, app.get("image")[0].proto.imgs[0].url)
    app.selectbox(key="sens-image").set_value("coffee").run()
    assert not app.exception and not app.error
    coffee = (_swept(app), app.dataframe[0].value, app.get("image")[0].proto.imgs[0].url)
    assert not np.allclose(coffee[0], cat[0]) and not coffee[1].equals(cat[1]) and coffee[2] != cat[2]
    app.selectbox(key="sens-image").set_value("cat").run()
    assert _swept(app) == cat[0] and app.dataframe[0].value.equals(cat[1])
