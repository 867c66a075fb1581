"""Widgets whose state a lecturer can bookmark: the URL's query parameters seed them once, then follow them."""
from __future__ import annotations

from typing import Any, Callable

import streamlit as st


def from_url(param: str, parse: Callable[[str], Any] = str, default: Any = None,
             valid: Callable[[Any], bool] = lambda v: True) -> Any:
    """The value bookmarked under `param`, parsed and validated, or `default` (absent, unparsable or invalid)."""
    raw = st.query_params.get(param)
    if raw is None:
        return default
    try:
        value = parse(raw)
    except (TypeError, ValueError):
        return default
    return value if valid(value) else default


def seed(key: str, param: str, parse: Callable[[str], Any] = str, default: Any = None,
         valid: Callable[[Any], bool] = lambda v: True) -> None:
    """Give widget `key` its bookmarked value before it is first drawn (later reruns keep the user's choice)."""
    if key not in st.session_state:
        st.session_state[key] = from_url(param, parse, default, valid)


def index_in(param: str, options, default) -> int:
    """For a selectbox's `index=`: the position of the bookmarked option, else of `default` (else 0)."""
    options = list(options)
    value = from_url(param, default=default, valid=lambda v: v in options)
    return options.index(value) if value in options else 0


def keep(**params: str) -> None:
    """Put `params` in the URL's query parameters, writing only those that differ from what the URL holds: Streamlit
    sends the browser the whole query string for every write, changed or not, and pages keep theirs on every run."""
    changed = {param: value for param, value in params.items() if st.query_params.get(param) != value}
    if changed:
        st.query_params.update(changed)
