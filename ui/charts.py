"""Finished charts and pictures, made once per input and shared by every session that shows them.

A script run rebuilds everything a page draws, for every visitor, even when every result behind it is cached:
Altair builds and validates its chart, Streamlit converts it to a Vega-Lite spec and its data to Arrow (most of a
warm run's time on the chart-heavy pages), and Streamlit encodes every picture again. Here each is made once per
(name, inputs, language, projector mode) and kept in one bounded cache, so a class opening a page pays for it once:

- `chart(name, inputs, build, **kwargs)` draws `build()` (an Altair chart) like present.chart would, from a cached
  spec (Streamlit's own conversion, its data already Arrow) with st.vega_lite_chart: the same element.
- `specs(name, inputs, build)`: the specs of the list of charts `build()` returns (a row of panels, made together),
  each to draw with st.vega_lite_chart where the page lays it out.
- `image(name, inputs, build, **kwargs)` draws `build()` (an RGB array or a PIL image) with st.image, from cached
  PNG bytes that Streamlit passes on as they are (st.image would encode an array again on every run).
- `once(name, inputs, make)`: anything else a run would recompute from the same inputs for every visitor (a reading
  of a results file, a frame a table or chart is made from), made once per (name, inputs).
- `kept(name, inputs, make)`: a model's result on a visitor's input (an explanation, a sweep, the measurements of a
  pair of models), kept as it is for every session in a smaller cache of its own: one can be a megabyte or two.
- `arrow(name, inputs, build)`: the Arrow table Streamlit's own conversion makes of `build()` (a data frame or a
  list of rows), for st.dataframe; `table(name, inputs, build, **kwargs)` draws it with st.table.

`inputs` is a small hashable tuple that, with `name`, says everything `build` depends on besides the session's
language and projector mode (which are added here): model and image keys, widget values. It is hashed on every run,
so it holds names and numbers, never arrays or frames (`digest` names an array or a data frame by its contents).
"""
from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable, Hashable

import numpy as np
import streamlit as st
from streamlit import dataframe_util
# Streamlit's own Altair -> Vega-Lite conversion (to_dict with validation, data to Arrow), the one st.altair_chart
# runs: a spec made by it and drawn with st.vega_lite_chart is the element st.altair_chart would have drawn.
from streamlit.elements.vega_charts import _convert_altair_to_vega_lite_spec

from ui import png, present
from ui.i18n import current

ENTRIES = 512  # the attention page's specs and pictures are 1 to 53 kB each (with their data): under 30 MB in all
# a timm model's explanation at 224 px or its 2-D sweep is 1-2 MB: 32 such results stay under 100 MB, and one not
# asked for in half an hour goes (a hostile session's uploads cannot fill the server)
KEPT, KEPT_TTL = 32, "30m"


def digest(data) -> str:
    """A short name for an array's contents (shape, type and values), e.g. an uploaded image, or for a data frame's
    (columns, types, index and values: its pickle, a fraction of a millisecond for a results file), for `inputs`."""
    if not isinstance(data, np.ndarray) and hasattr(data, "columns"):
        return hashlib.blake2b(pickle.dumps(data, protocol=5), digest_size=16).hexdigest()
    a = np.ascontiguousarray(data)
    return hashlib.blake2b(f"{a.shape}{a.dtype}".encode() + a.tobytes(), digest_size=16).hexdigest()


def version(path) -> tuple | None:
    """A file's version for `inputs`: its path, size and modification time, which name its contents without reading
    them (a results file rewritten in place gets a new one); None without the file."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return str(path), stat.st_size, stat.st_mtime_ns


def _finished(name: str, inputs: tuple, lang: str, projector: bool, make: Callable):
    """The one cache: `make()` once per (name, inputs, language, projector mode); every session gets the same object
    (never changed after)."""
    # keyed by one string, passed by keyword: Streamlit hashes a string in a few microseconds, a tuple of names and
    # numbers item by item, and finds a positional argument's name with inspect.signature (together a quarter of a
    # millisecond a call, some twenty calls a run on the attention page)
    return _made(key=_key(name, inputs, lang, projector), _make=make)


def _key(name: str, *inputs) -> str:
    """The cache key: the inputs' repr, which names them by value. An object without a repr of its own is named by
    its address, which another object may have later: a wrong picture for someone else, so it is refused here."""
    key = f"{name}|{inputs!r}"
    if " object at 0x" in key:
        raise TypeError(f"ui.charts inputs must be names and numbers, not objects: {key[:200]}")
    return key


@st.cache_resource(max_entries=ENTRIES, show_spinner=False)
def _made(key: str, _make: Callable):
    return _make()


def spec(name: str, inputs: tuple[Hashable, ...], build: Callable) -> dict:
    """The Vega-Lite spec of the Altair chart `build()` (projector-sized when projector mode is on), its data as
    named Arrow datasets, made once per (name, inputs, language, projector mode)."""
    return _finished(name, inputs, current(), present.is_on(),
                     lambda: _convert_altair_to_vega_lite_spec(present.sized(build())))


def specs(name: str, inputs: tuple[Hashable, ...], build: Callable) -> list[dict]:
    """The specs (see spec) of the Altair charts in the list `build()` returns, made together once per input."""
    return _finished(name, inputs, current(), present.is_on(),
                     lambda: [_convert_altair_to_vega_lite_spec(present.sized(c)) for c in build()])


def once(name: str, inputs: tuple[Hashable, ...], make: Callable):
    """`make()` once per (name, inputs), shared by every session: for what a page computes from its inputs alone (a
    reading, a frame), not worded in the session's language (a core Message is worded later by i18n.words)."""
    return _finished(name, inputs, "", False, make)


def kept(name: str, inputs: tuple[Hashable, ...], make: Callable):
    """`make()` once per (name, inputs), kept as it is for every session (read, never changed: no unpickled copy on
    a run), at most KEPT of them, each for KEPT_TTL after it was last asked for: for a model's result on a visitor's
    input, which can be a megabyte or two (once is for readings and frames of tens of kB)."""
    return _kept(key=_key(name, inputs), _make=make)


@st.cache_resource(max_entries=KEPT, ttl=KEPT_TTL, show_spinner=False)
def _kept(key: str, _make: Callable):
    return _make()


def chart(name: str, inputs: tuple[Hashable, ...], build: Callable, **kwargs):
    """present.chart(build(), **kwargs), with the spec made once per input (see spec)."""
    return st.vega_lite_chart(spec(name, inputs, build), **kwargs)


def picture(name: str, inputs: tuple[Hashable, ...], build: Callable) -> bytes:
    """PNG bytes of the picture `build()` (an RGB array or a PIL image), made once per (name, inputs, language)."""
    return _finished(name, inputs, current(), False, lambda: png(_as_st_image_reads(build())))


def _as_st_image_reads(picture) -> np.ndarray:
    """The picture as uint8 the way st.image reads an array, so that the pixels shown do not change: floats (in
    [0, 1]) times 255 and cut to whole numbers, not rounded."""
    a = np.asarray(picture)
    return (a * 255).astype(np.uint8) if np.issubdtype(a.dtype, np.floating) else a.astype(np.uint8)


def image(name: str, inputs: tuple[Hashable, ...], build: Callable, **kwargs):
    """st.image of picture(name, inputs, build): PNG bytes, which Streamlit passes on without decoding or
    re-encoding (a width under the picture's own would make it resize them on every run)."""
    return st.image(picture(name, inputs, build), output_format="PNG", **kwargs)


def arrow(name: str, inputs: tuple[Hashable, ...], build: Callable):
    """The Arrow table Streamlit's own conversion makes of `build()` (a data frame or a list of rows: pandas to Arrow,
    a few milliseconds a table, on every run otherwise), made once per (name, inputs, language): st.table or
    st.dataframe of it draws the element they draw of the frame itself."""
    return _finished(name, inputs, current(), False, lambda: dataframe_util.convert_pandas_df_to_arrow_table(
        dataframe_util.convert_anything_to_pandas_df(build())))


def table(name: str, inputs: tuple[Hashable, ...], build: Callable, **kwargs):
    """st.table(build(), **kwargs) from arrow(name, inputs, build)."""
    return st.table(arrow(name, inputs, build), **kwargs)
