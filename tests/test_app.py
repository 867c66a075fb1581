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
