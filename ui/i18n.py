"""The interface's languages. One catalogue per language (ui/locales/<code>.toml), looked up through t(key, **values):
keys are dotted (`home.intro`), sentences with numbers are templates with named placeholders (`{n}`), filled here.

The language is the session's: `?lang=zh|en` picks it (and is kept in the URL), else the browser's language
(st.context.locale), else English; the sidebar picker changes it.
"""
from __future__ import annotations

import functools
import tomllib
from pathlib import Path

import streamlit as st

from ui import bookmarks

LOCALES = Path(__file__).with_name("locales")
LANGUAGES = {"en": "English", "zh": "中文"}
DEFAULT = "en"
KEY = "lang"


@functools.cache
def catalogue(lang: str) -> dict[str, str]:
    """Every key of one language's catalogue, flattened to dotted keys."""
    def flatten(table: dict, prefix: str = "") -> dict[str, str]:
        out = {}
        for k, v in table.items():
            out.update(flatten(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
        return out
    return flatten(tomllib.loads((LOCALES / f"{lang}.toml").read_text(encoding="utf-8")))


def _from_browser() -> str:
    try:
        locale = st.context.locale or ""
    except Exception:  # noqa: BLE001  (no browser behind this run: AppTest, bare mode)
        locale = ""
    return "zh" if locale.lower().startswith("zh") else DEFAULT


def current() -> str:
    """The session's language: set once from ?lang=, else from the browser's language."""
    if KEY not in st.session_state:
        bookmarks.seed(KEY, KEY, str, _from_browser(), lambda v: v in LANGUAGES)
    return st.session_state[KEY]


def t(key: str, **values) -> str:
    """The text of `key` in the session's language, its {placeholders} filled from `values`."""
    text = catalogue(current())[key]
    return text.format(**values) if values else text


def picker() -> str:
    """The sidebar's language picker; keeps ?lang= in the URL while navigating. Returns the language."""
    current()
    st.sidebar.radio(t("app.language"), list(LANGUAGES), key=KEY, format_func=LANGUAGES.get, horizontal=True)
    st.query_params[KEY] = current()
    return current()
