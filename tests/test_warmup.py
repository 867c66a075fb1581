"""The server's warm-up (ui/warmup.py): it goes on behind a server that already answers, steps aside while a
visitor's page runs (and not for ever), every step runs once, a failing step is reported instead of raised, what it
computes lands in the pages' caches, and the imported objects are frozen out of the garbage collector's full
collections."""
import asyncio
import gc
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import streamlit as st

from ui import warmup

ROOT = Path(__file__).resolve().parents[1]
STEPS = ["imports", "models", "freeze imports", "equivariance_views", "attention_views", "explain_views",
         "sensitivity_views", "data_views", "biases_views", "freeze"]


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(warmup, "_thread", None)
    monkeypatch.setattr(warmup, "report", {})
    monkeypatch.setattr(warmup, "waited", {})
    monkeypatch.setattr(warmup, "done", warmup.threading.Event())
    monkeypatch.setattr(warmup, "_runs", 0)
    no_runs = warmup.threading.Event()
    no_runs.set()
    monkeypatch.setattr(warmup, "_no_runs", no_runs)
    monkeypatch.setattr(warmup, "GRACE_S", 0.0)
    yield warmup
    assert warmup.done.wait(300)  # no warm-up thread outlives its test
    gc.unfreeze()  # give the test process its collector back


def test_warm_up_runs_every_step_once_fills_the_caches_and_freezes_what_it_loaded(fresh, monkeypatch):
    st.cache_data.clear()
    st.cache_resource.clear()
    fresh.start()
    fresh.start()  # a second visitor does not start a second warm-up
    assert fresh.done.wait(300)
    assert list(fresh.report) == STEPS
    assert all(isinstance(v, float) for v in fresh.report.values()), fresh.report
    assert gc.get_freeze_count() > 100_000  # torch, timm, altair, pandas: hundreds of thousands of objects

    from ui import compute

    def computes(*args, **kwargs):
        raise AssertionError("computed again: the warm-up's result was not in the cache")

    monkeypatch.setattr(compute, "run", computes)
    for name in warmup.VIEWS:  # every page's default view now reads the caches the warm-up filled
        __import__(f"ui.{name}", fromlist=["warm_up"]).warm_up()


def test_a_failing_step_is_reported_and_the_rest_still_runs(fresh, monkeypatch):
    from ui import attention_views

    def broken():
        raise RuntimeError("weights gone")

    monkeypatch.setattr(attention_views, "warm_up", broken)
    fresh.start()
    assert fresh.done.wait(300)
    assert fresh.report["attention_views"] == "RuntimeError: weights gone"
    assert isinstance(fresh.report["sensitivity_views"], float) and isinstance(fresh.report["freeze"], float)


def test_the_warm_up_waits_while_a_visitors_page_runs(fresh, monkeypatch):
    monkeypatch.setattr(warmup, "MAX_WAIT_S", 60.0)
    with fresh.visitor():
        fresh.start()
        time.sleep(1.5)
        assert fresh.report == {} and not fresh.done.is_set()  # not one step while the page runs
    assert fresh.done.wait(300)
    assert fresh.waited["imports"] >= 1.0
    assert list(fresh.report) == STEPS


def test_a_run_that_never_ends_does_not_hold_the_warm_up_off_for_ever(fresh, monkeypatch):
    monkeypatch.setattr(warmup, "MAX_WAIT_S", 0.05)
    with fresh.visitor():
        fresh.start()
        assert fresh.done.wait(300)
    assert list(fresh.report) == STEPS


def test_the_lifespan_lets_the_server_answer_before_the_warm_up_is_done(fresh, monkeypatch):
    monkeypatch.setattr(warmup, "GRACE_S", 1.0)

    async def serve():
        async with warmup.lifespan(None):  # Streamlit serves once the lifespan's start has yielded
            return fresh.done.is_set(), fresh._thread is not None and fresh._thread.is_alive()

    assert asyncio.run(serve()) == (False, True)


def test_a_page_opened_during_the_warm_up_shows_no_exception(fresh):
    from streamlit.testing.v1 import AppTest

    st.cache_data.clear()
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
    fresh.start()
    at.switch_page("pages/biases.py")  # the last of the warm-up's pages: its measurements are computed by one side,
    at.run()  # the other waits for them in the cache
    assert not at.exception, [e.value for e in at.exception]
    assert at.title
    assert fresh.done.wait(300)
    assert all(isinstance(v, float) for v in fresh.report.values()), fresh.report


def _warm_up_thread_alive(pid: int) -> bool:
    for comm in Path(f"/proc/{pid}/task").glob("*/comm"):
        try:
            if comm.read_text().strip() == warmup.NAME:
                return True
        except OSError:
            continue
    return False


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads the server's threads from /proc")
def test_the_server_answers_while_it_warms_up_and_its_first_page_is_served(tmp_path):
    """A real `streamlit run`: the health check answers while the warm-up thread is still there, a page opened at
    once finishes with no exception, and the server prints no 'missing ScriptRunContext' warning."""
    from bench.bench_app import free_port, healthy, stop_server
    from bench.loadgen import Open, run_sessions

    port, log = free_port(), tmp_path / "server.log"
    url = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
                                 "--server.address", "127.0.0.1", "--server.headless", "true"],
                                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env={**os.environ})
    try:
        deadline = time.monotonic() + 120
        while not healthy(url, 1.0):
            assert proc.poll() is None and time.monotonic() < deadline, "no health check answered"
            time.sleep(0.05)
        assert _warm_up_thread_alive(proc.pid), "the health check waited for the warm-up"
        samples = asyncio.run(run_sessions(url, 1, [Open("equivariance")], timeout=240))
        assert [s.error for s in samples] == [""] and samples[0].exceptions == 0, samples
        deadline = time.monotonic() + 300
        while _warm_up_thread_alive(proc.pid):  # the warm-up ends by itself
            assert time.monotonic() < deadline, "the warm-up did not end"
            time.sleep(0.5)
        samples = asyncio.run(run_sessions(url, 1, [Open("biases")], timeout=240))
        assert [s.error for s in samples] == [""] and samples[0].exceptions == 0, samples
    finally:
        stop_server(proc)
    assert "missing ScriptRunContext" not in log.read_text()
