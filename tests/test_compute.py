"""ui/compute.py: the server-wide compute threads and what it configures before torch is used."""
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ui import compute

ROOT = Path(__file__).resolve().parents[1]


def test_no_more_than_slots_computations_run_at_once_and_all_on_compute_threads():
    running, most, names, lock = 0, 0, set(), threading.Lock()

    def work(k):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            names.add(threading.current_thread().name.split("_")[0])
        time.sleep(0.05)
        with lock:
            running -= 1
        return k * k

    results = {}
    callers = [threading.Thread(target=lambda k=k: results.update({k: compute.run(work, k)}))
               for k in range(3 * compute.SLOTS + 1)]
    for t in callers:
        t.start()
    for t in callers:
        t.join(10)
    assert results == {k: k * k for k in range(3 * compute.SLOTS + 1)}
    assert most == compute.SLOTS
    assert names == {"ibl-compute"}


def test_an_exception_reaches_the_caller_and_the_pool_keeps_working():
    def boom():
        raise ValueError("bad input")

    for _ in range(compute.SLOTS + 1):
        with pytest.raises(ValueError, match="bad input"):
            compute.run(boom)
    assert compute.run(lambda: 7) == 7


def test_nested_runs_do_not_deadlock_when_every_thread_is_busy():
    out = []
    callers = [threading.Thread(target=lambda: out.append(compute.run(lambda: compute.run(lambda: 1) + 1)))
               for _ in range(2 * compute.SLOTS)]
    for t in callers:
        t.start()
    for t in callers:
        t.join(10)
    assert out == [2] * (2 * compute.SLOTS)


def test_progress_is_passed_on_in_the_calling_thread():
    seen, caller = [], threading.get_ident()

    def slow(steps, progress):
        for i in range(1, steps + 1):
            time.sleep(0.04)
            progress(i, steps)
        return "done"

    assert compute.run(slow, 10, progress=lambda d, t: seen.append((d, t, threading.get_ident()))) == "done"
    assert seen and all(t == 10 and ident == caller for _, t, ident in seen)
    done = [d for d, _, _ in seen]
    assert done == sorted(set(done)) and set(done) <= set(range(1, 11))


def test_a_computation_stops_at_its_next_progress_call_when_the_caller_stops_waiting():
    steps_run = []

    def slow(progress):
        for i in range(1, 51):
            time.sleep(0.02)
            steps_run.append(i)
            progress(i, 50)

    class UserMovedOn(Exception):  # what Streamlit raises in the script thread on a widget change
        pass

    def bar(done, total):
        raise UserMovedOn

    with pytest.raises(UserMovedOn):
        compute.run(slow, progress=bar)
    time.sleep(0.3)  # the computation notices at its next progress call
    assert len(steps_run) < 50
    assert compute.run(lambda: "free") == "free"


def test_the_app_never_loads_triton_and_timm_still_builds_models():
    code = ("import sys; from ui import compute; import timm, torch; "
            "from torch.utils._triton import has_triton_package; "
            "net = timm.create_model('vit_tiny_patch16_224', pretrained=False, img_size=32, patch_size=8); "
            "print(type(sys.modules.get('triton')).__name__, has_triton_package(), "
            "tuple(net(torch.rand(1, 3, 32, 32)).shape))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["NoneType", "False", "(1,", "1000)"]
