"""Warm the server up in the background, so that later visitors do not wait for `import torch`, the embedded models
and every page's default results. It starts with the server (`lifespan`, the entry file's st.App), and the server
answers at once: the page a first visitor asks for computes what it needs itself, in the same caches (a result the
warm-up is computing is waited for, not computed twice: Streamlit's caches hold a lock per key while they compute,
and Python's imports one per module), and it does not wait for the other pages' defaults. Where no lifespan runs
(AppTest), the first page view starts the warm-up.

The warm-up begins GRACE_S after the server starts (a visitor waiting at the door, as on a sleeping Cloud app,
goes first), and steps aside while a visitor's script runs (`visitor()`, around every run in streamlit_app.py): before
each of its steps (one module, one model, one page's defaults) it waits until no run is under way, at most MAX_WAIT_S
each time, so that a class's steady traffic cannot hold it off for ever. Threads share one interpreter lock: torch
releases it while it computes, but imports, building models and the pages' own Python hold it, so a warm-up that
kept going on 2 cores would make the visitor's page up to twice as slow. A step already under way finishes first
(the longest, `import torch`, takes about a second).

The freezes matter most for every later click: `gc.freeze()`. Streamlit runs a full garbage collection after
every script run (`runner.postScriptGC`); with torch, timm, altair and pandas loaded, that is ~480k tracked
objects and ~230 ms on 2 cores, during which the server sends nothing (it holds the GIL), so each control waited
230 ms longer than its computation. Frozen objects (the imported modules, the models) are left out of every later
collection: it then only walks what the sessions made since, and takes well under a millisecond. The warm-up
freezes once the imports and models are in (so that the visitors' runs during the rest of the warm-up are spared
the collection too) and again at its end.
"""
from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import threading
import time

from ui import name_os_thread

# torch, the models and the pages' helpers are imported by the warm-up thread itself (importlib, and `models` below):
# the server imports this module at its start and answers before they are in

_lock = threading.Lock()
_thread: threading.Thread | None = None
done = threading.Event()
report: dict[str, float | str] = {}  # step -> seconds (or the error that stopped it): for tests and debugging
NAME = "ibl-warm-up"
# every page's helpers, each with a warm_up() that computes its default view
# the bias page last: its default measurements take seconds, and every other page should be warm before they start
VIEWS = ("equivariance_views", "attention_views", "explain_views", "sensitivity_views", "data_views",
         "biases_views")


class _NoContextWarnings(logging.Filter):
    """Streamlit warns about a missing ScriptRunContext on every cached call made outside a script run: expected
    here (the warm-up calls the pages' cached functions from its own thread, and shows nothing), so drop those
    records from this thread only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != NAME


GRACE_S = 2.0  # the warm-up begins this long after the server starts: a visitor already at the door goes first
MAX_WAIT_S = 10.0  # the longest the warm-up waits for the visitors' runs before each step (a cold data page: ~6 s)
_runs = 0  # visitors' script runs under way
_runs_lock = threading.Lock()
_no_runs = threading.Event()
_no_runs.set()
waited: dict[str, float] = {}  # step -> seconds it waited for visitors' runs before it started (for tests)


@contextlib.asynccontextmanager
async def lifespan(app):
    """st.App's lifespan: the warm-up starts with the server, which answers at once (its health check too)."""
    start()
    yield


@contextlib.contextmanager
def visitor():
    """Around a visitor's script run: the warm-up waits while any runs (between its steps)."""
    global _runs
    with _runs_lock:
        _runs += 1
        _no_runs.clear()
    try:
        yield
    finally:
        with _runs_lock:
            _runs -= 1
            if _runs == 0:
                _no_runs.set()


def _step_aside(name: str) -> None:
    t = time.perf_counter()
    _no_runs.wait(MAX_WAIT_S)
    w = time.perf_counter() - t
    if w > 0.001:
        waited[name] = round(waited.get(name, 0.0) + w, 3)


def start() -> None:
    """Start the warm-up once per server process (later calls return at once)."""
    global _thread
    with _lock:
        if _thread is None:
            _thread = threading.Thread(target=_warm, name=NAME, daemon=True)
            _thread.start()


def _step(name: str, fn) -> None:
    _step_aside(name)
    t, w = time.perf_counter(), waited.get(name, 0.0)
    try:
        fn()
        report[name] = round(time.perf_counter() - t - (waited.get(name, 0.0) - w), 3)  # its waits inside left out
    except Exception as e:  # noqa: BLE001 (a warm-up failure must never reach a visitor: the page shows the error)
        report[name] = f"{type(e).__name__}: {e}"


def _warm() -> None:
    name_os_thread(NAME)
    time.sleep(GRACE_S)
    for name in ("streamlit.runtime.scriptrunner_utils.script_run_context", "streamlit.runtime.caching"):
        logging.getLogger(name).addFilter(_NoContextWarnings())

    def imports():  # torch, timm, altair, pandas and every page's helpers, one module at a time
        for name in ("ui.compute",) + tuple(f"ui.{v}" for v in VIEWS):
            _step_aside("imports")
            importlib.import_module(name)

    def models():
        from core.models import EMBEDDED, ModelError
        from ui.models import cached_model

        for name in EMBEDDED:
            _step_aside("models")
            try:
                cached_model(name)
            except ModelError:  # missing weights: the pages say so when they need the model
                pass

    def freeze():
        gc.collect()
        gc.freeze()

    _step("imports", imports)
    _step("models", models)
    _step("freeze imports", freeze)
    for name in VIEWS:
        _step(name, importlib.import_module(f"ui.{name}").warm_up)
    _step("freeze", freeze)
    done.set()
