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
    readings = [i.value for i in page.info if i.value.startswith(hu.reading(shipped))]
    assert readings, "the sentences reading the data-hunger curves are missing"
    assert any(m.value == hu.method(shipped) for m in page.markdown)
    assert any(c.value == hu.convergence_note(shipped) for c in page.caption)
    uniform = at.uniform_attention_distance(8, 8, 1)  # the embedded ViT: 8x8 patches of 8 px and a class token
    assert any(i.value == hu.vit_learning_reading(shipped, uniform) for i in page.info)


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
