"""The server's warm-up (ui/warmup.py): every step runs once, a failing step is reported instead of raised, and the
imported objects are frozen out of the garbage collector's full collections."""
import gc

import pytest

from ui import warmup


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(warmup, "_thread", None)
    monkeypatch.setattr(warmup, "report", {})
    monkeypatch.setattr(warmup, "done", warmup.threading.Event())
    yield warmup
    gc.unfreeze()  # give the test process its collector back


def test_warm_up_runs_every_step_once_and_freezes_what_it_loaded(fresh):
    fresh.start()
    fresh.start()  # a second visitor does not start a second warm-up
    assert fresh.done.wait(300)
    steps = ["imports", "models", "equivariance_views", "attention_views", "explain_views", "sensitivity_views",
             "data_views", "biases_views", "freeze"]
    assert list(fresh.report) == steps
    assert all(isinstance(v, float) for v in fresh.report.values()), fresh.report
    assert gc.get_freeze_count() > 100_000  # torch, timm, altair, pandas: hundreds of thousands of objects


def test_a_failing_step_is_reported_and_the_rest_still_runs(fresh, monkeypatch):
    from ui import attention_views

    def broken():
        raise RuntimeError("weights gone")

    monkeypatch.setattr(attention_views, "warm_up", broken)
    fresh.start()
    assert fresh.done.wait(300)
    assert fresh.report["attention_views"] == "RuntimeError: weights gone"
    assert isinstance(fresh.report["sensitivity_views"], float) and isinstance(fresh.report["freeze"], float)
