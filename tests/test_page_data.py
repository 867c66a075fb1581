"""The data page through Streamlit's AppTest: shipped curves, their reading, and a live run end to end."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import experiments as ex

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "data.py")




@pytest.fixture
def page():
    at = AppTest.from_file(PAGE, default_timeout=120)
    return at.run()


def test_data_page_reads_the_shipped_curves(page):
    assert not page.exception
    reading = [i.value for i in page.info if "N = 250" in i.value]
    assert reading, "the sentence reading the data-hunger curves is missing"
    assert reading[0].startswith(ex.hunger_reading(ex.hunger_summary(ex.load_hunger())))
    assert any(f"{ex.HUNGER_STEPS} AdamW steps" in m.value for m in page.markdown)


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
    assert 0 <= rows[0]["accuracy"] <= 1
    assert page.button(key="live_clear")  # the point can be cleared again
    page.button(key="live_clear").click()
    page.run()
    assert page.session_state["live_hunger"]["rows"] == []
