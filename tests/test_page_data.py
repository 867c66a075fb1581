"""The data page through Streamlit's AppTest: shipped curves, their reading, and a live run end to end."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import attention as at
from core import hunger as hu

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "data.py")


@pytest.fixture
def page():
    at = AppTest.from_file(PAGE, default_timeout=120)
    return at.run()


def test_data_page_reads_the_shipped_curves(page):
    assert not page.exception
    shipped = hu.load()
    readings = [i.value for i in page.info if i.value.startswith(str(hu.reading(shipped)))]
    assert readings, "the sentences reading the data-hunger curves are missing"
    assert any(m.value == str(hu.method(shipped)) for m in page.markdown)
    assert any(c.value == str(hu.convergence_note(shipped)) for c in page.caption)
    uniform = at.uniform_attention_distance(8, 8, 1)  # the embedded ViT: 8x8 patches of 8 px and a class token
    assert any(i.value == str(hu.vit_learning_reading(shipped, uniform)) for i in page.info)


def test_the_data_page_in_chinese_reads_the_same_numbers():
    page = AppTest.from_file(PAGE, default_timeout=120)
    page.query_params["lang"] = "zh"
    page.run()
    assert not page.exception
    shipped = hu.load()
    uniform = at.uniform_attention_distance(8, 8, 1)
    assert page.title[0].value == "ViT 为什么需要数据"
    assert any(i.value.startswith(hu.reading(shipped).text("zh")) for i in page.info)
    assert any(i.value == hu.vit_learning_reading(shipped, uniform).text("zh") for i in page.info)
    assert any(m.value == hu.method(shipped).text("zh") for m in page.markdown)


def test_the_centre_reading_names_the_model_that_loses_more():
    from ui.data_views import _centre_reading

    cnn_worse = _centre_reading({"cnn-center": (0.95, 0.40), "vit-center": (0.90, 0.70)})
    assert cnn_worse.key == "data.centre.cnn_loses_more"
    assert str(cnn_worse).startswith("Away from the centre the centre-trained CNN falls from 95% to 40% and the "
                                     "centre-trained ViT only from 90% to 70%: the reverse")
    assert cnn_worse.text("zh").startswith("离开中央后，只在中央训练的 CNN 准确率从 95% 降到 40%，而只在中央训练的 "
                                           "ViT 仅从 90% 降到 70%：这与教科书")
    vit_worse = _centre_reading({"cnn-center": (0.95, 0.90), "vit-center": (0.90, 0.50)})
    assert vit_worse.key == "data.centre.vit_loses_more"
    assert vit_worse.text("zh").startswith("离开中央后，只在中央训练的 ViT 准确率从 90% 降到 50%，而只在中央训练的 "
                                           "CNN 仅从 95% 降到 90%，与教科书的预期一致")


def test_a_live_run_trains_and_adds_its_point(page):
    page.multiselect(key="live_sizes").set_value([250])
    page.multiselect(key="live_models").set_value(["cnn"])
    page.select_slider(key="live_steps").set_value(25)
    page.run()
    page.button(key="live_train").click()
    page.run()
    assert not page.exception
    rows = page.session_state["live_hunger"]["rows"]
    assert [(r["model"], r["train_size"], r["steps"]) for r in rows] == [("cnn", 250, 25)]
    assert page.session_state["live_hunger"]["queue"] == []
    assert 0 <= rows[0]["test_accuracy"] <= 1 and 0 <= rows[0]["train_accuracy"] <= 1
    assert page.session_state["live_hunger_open"]  # the panel stays open from now on
    assert page.button(key="live_clear")  # the point can be cleared again
    page.button(key="live_clear").click()
    page.run()
    assert page.session_state["live_hunger"]["rows"] == []


def test_the_live_estimate_counts_rendering_steps_and_evaluation():
    from ui.data_views import live_estimate

    rates = {"render": 0.001, "step": {"cnn": 0.1, "vit": 0.3}, "eval": {"cnn": 0.002, "vit": 0.003}}
    # cnn at N = 250 for 25 steps: one 2,000-image chunk rendered, 25 steps, 2,000 test + 250 training images
    # evaluated; vit at N = 2,500 for 10 steps: two chunks, 10 steps, 2,000 + 2,000 images
    expected = (2.0 + 2.5 + 0.002 * 2250) + (4.0 + 3.0 + 0.003 * 4000)
    assert live_estimate([("cnn", 250, 25), ("vit", 2_500, 10)], rates) == pytest.approx(expected)


def test_the_transfer_runs_are_shown_with_gains_computed_from_the_csv(page, monkeypatch):
    from core import pretraining as pt

    rows = pt.load()
    if rows is None:
        pytest.skip("no transfer runs shipped yet (python -m core.experiments pretraining)")
    assert any(s.value == "Pre-train large, fine-tune small" for s in page.subheader)
    n = int(rows.target_size.min())
    mean = rows[rows.target_size == n].groupby(["model", "init"]).test_accuracy.mean()  # by hand, from the CSV
    info = " ".join(i.value for i in page.info)
    for model in ("cnn", "vit"):
        assert f"for {model} from {mean[model, 'scratch']:.0%} to {mean[model, 'finetune']:.0%}" in info, info
    assert len(page.get("vega_lite_chart")) >= 5  # positions (2), data hunger, ViT learning (2), transfer
    monkeypatch.setattr(pt, "PRETRAINING_FILE", Path("/nonexistent/pretraining.csv"))
    bare = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not bare.exception and not any(s.value == "Pre-train large, fine-tune small" for s in bare.subheader)
