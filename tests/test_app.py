"""The whole app in Streamlit's AppTest: the entry file runs and every page opens without an exception."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ui import registry

ROOT = Path(__file__).resolve().parents[1]

PAGES = [p.path for p in registry.PAGES]


@pytest.fixture(scope="module")
def app():
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    at.run()
    return at


def test_entry_runs_and_shows_home(app):
    assert not app.exception
    assert any("Inductive Bias Lab" in t.value for t in app.title)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_opens(app, page):
    app.switch_page(page)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.title, f"{page} shows no title"


def test_projector_mode_from_the_url_enlarges_type_and_chart_labels():
    import json

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    at.query_params["present"] = "1"
    at.run()
    assert at.toggle(key="present").value is True
    styles = [h.proto.body for h in at.get("html")]
    assert any("font-size: 24px" in s for s in styles), styles  # 16 px x 1.5
    at.switch_page("pages/sensitivity.py")
    at.run()
    assert not at.exception
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    assert spec["config"]["axis"]["labelFontSize"] >= 16  # Vega-Lite's default is 10-11 px

    at.toggle(key="present").set_value(False).run()
    assert not any("font-size: 24px" in h.proto.body for h in at.get("html"))
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    assert "labelFontSize" not in spec.get("config", {}).get("axis", {})
