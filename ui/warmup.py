"""Warm the server up in the background, so that the compute pages' first visits do not wait for `import torch`, the
embedded models and their default results. It starts with the server (`lifespan`, the entry file's st.App), whose
health check then answers once the warm-up is done (at most WAIT_S later); where no lifespan runs (AppTest), the
first page view starts it.

The last step matters most for every later click: `gc.freeze()`. Streamlit runs a full garbage collection after
every script run (`runner.postScriptGC`); with torch, timm, altair and pandas loaded, that is ~480k tracked
objects and ~230 ms on 2 cores, during which the server sends nothing (it holds the GIL), so each control waited
230 ms longer than its computation. Frozen objects (the imported modules, the models) are left out of every later
collection: it then only walks what the sessions made since, and takes well under a millisecond.
"""
from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import logging
import threading
import time

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
    here, so drop those records from this thread only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != NAME


WAIT_S = 60.0  # the longest the server holds its health check for the warm-up (~15 s on 2 idle cores)


@contextlib.asynccontextmanager
async def lifespan(app):
    """st.App's lifespan: the warm-up starts with the server, and the server answers once it is done (a sleeping
    Cloud app shows its waking-up screen meanwhile, rather than a page that waits on every first click)."""
    start()
    await asyncio.to_thread(done.wait, WAIT_S)
    yield


def start() -> None:
    """Start the warm-up once per server process (later calls return at once)."""
    global _thread
    with _lock:
        if _thread is None:
            _thread = threading.Thread(target=_warm, name=NAME, daemon=True)
            _thread.start()


def _step(name: str, fn) -> None:
    t = time.perf_counter()
    try:
        fn()
        report[name] = round(time.perf_counter() - t, 3)
    except Exception as e:  # noqa: BLE001 (a warm-up failure must never reach a visitor: the page shows the error)
        report[name] = f"{type(e).__name__}: {e}"


def _warm() -> None:
    for name in ("streamlit.runtime.scriptrunner_utils.script_run_context", "streamlit.runtime.caching"):
        logging.getLogger(name).addFilter(_NoContextWarnings())

    def imports():  # torch, timm, altair, pandas and every page's helpers
        for name in VIEWS:
            importlib.import_module(f"ui.{name}")

    def models():
        from core.models import EMBEDDED, ModelError
        from ui.models import cached_model

        for name in EMBEDDED:
            try:
                cached_model(name)
            except ModelError:  # missing weights: the pages say so when they need the model
                pass

    _step("imports", imports)
    _step("models", models)
    for name in VIEWS:
        _step(name, importlib.import_module(f"ui.{name}").warm_up)
    _step("freeze", lambda: (gc.collect(), gc.freeze()))
    done.set()
