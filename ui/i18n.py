"""The interface's language. The catalogues (locales/<lang>/*.toml, loaded by core.messages) are looked up through
t(key, **values) in the session's language; words(message_or_error) words what core returns or raises.

Which to use: `t` for a sentence the interface writes itself (a key and its values, worded now); `words` for a
Message or error that core returned or raised (core builds those with core.messages.say, never knowing the
language); `worded` for a widget's format_func (labels worded now, looked up later); `name_of` for a thing the
code knows by an English name (a sample image, a shape).

The language is the session's: `?lang=zh|en` picks it (and is kept in the URL), else the browser's language
(st.context.locale), else English; the sidebar picker changes it.
"""
from __future__ import annotations

import re
import threading
from typing import Callable

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core import messages
from core.messages import DEFAULT, LANGUAGES, Explained, Message, catalogue, listing  # noqa: F401  (one place: core)
from ui import bookmarks

KEY = "lang"
# The language of the script run under way in this thread, read from session state once a run: pages call current()
# a hundred or more times a run, and each session-state read costs some 20 microseconds (under a lock, through the
# widget states), 5-10 % of a warm run.
_this_run = threading.local()


def _from_browser() -> str:
    try:
        locale = st.context.locale or ""
    except Exception:  # noqa: BLE001  (no browser behind this run: AppTest, bare mode)
        locale = ""
    return "zh" if locale.lower().startswith("zh") else DEFAULT


def current() -> str:
    """The session's language: set once from ?lang=, else from the browser's language."""
    ctx = get_script_run_ctx(suppress_warning=True)
    run = ctx.cursors if ctx else None  # a new dict at the start of every script run (a fragment's too)
    if run is not None and getattr(_this_run, "run", None) is run:
        return _this_run.lang  # a widget's value, the picker's included, does not change during a run
    lang = st.session_state.get(KEY)
    if lang is None:
        bookmarks.seed(KEY, KEY, str, _from_browser(), lambda v: v in LANGUAGES)
        lang = st.session_state[KEY]
    _this_run.run, _this_run.lang = run, lang
    return lang


def t(key: str, **values) -> str:
    """The text of `key` in the session's language, its {placeholders} filled from `values`: for the sentences the
    interface writes itself (a Message from core goes through `words`)."""
    return messages.text(current(), key, **values)


def name_of(section: str, name: str) -> str:
    """What a thing the code knows by an English name (a sample image, a shape, a kernel) is called in the session's
    language: key `<section>.<slug(name)>`; a name the catalogue does not know (a timm class) is shown as it is."""
    return catalogue(current()).get(f"{section}.{slug(name)}", name)


FULL_WIDTH_ENDS = "。！？：；）”"  # Chinese punctuation carries its own space: no blank follows it


def joined(parts: list[str]) -> str:
    """Sentences one after another: a blank between them, none after full-width punctuation (bold or not)."""
    text = ""
    for part in parts:
        text += ("" if not text or text.rstrip("*")[-1] in FULL_WIDTH_ENDS else " ") + part
    return text


def labelled(label: str, text: str = "") -> str:
    """'Label:' in bold, then `text` (a bold run that ends in punctuation closes only before a blank, so the colon
    stays outside it)."""
    bold = label.rstrip(":：")
    return joined([f"**{bold}**{label[len(bold):]}"] + ([text] if text else []))


def worded(options, label) -> Callable[[str], str]:
    """A widget's format_func (only there): each option's `label`, worded now in the session's language, so that it
    stays right when it is called later, outside this script run (AppTest does that)."""
    return {o: label(o) for o in options}.__getitem__


def slug(name: str) -> str:
    """A name as a catalogue key: lower-case letters, digits and '-', everything else one '_'."""
    return re.sub(r"[^0-9a-z-]+", "_", name.lower()).strip("_")


def words(what: Message | Exception | None) -> str:
    """A core Message or error in the session's language (an error core did not word: its own text; None: ""): for
    what core returns or raises; the interface's own sentences use `t`."""
    if what is None:
        return ""
    if isinstance(what, Message):
        return what.text(current())
    if isinstance(what, Explained):
        return what.message.text(current())
    return str(what)


def picker() -> str:
    """The sidebar's language picker; keeps ?lang= in the URL while navigating. Returns the language."""
    current()
    st.sidebar.radio(t("app.language"), list(LANGUAGES), key=KEY, format_func=LANGUAGES.get, horizontal=True)
    bookmarks.keep(**{KEY: current()})
    return current()
