"""How the app computes with torch on a small shared server. Imported by every ui module that computes, before
torch is first used (the home page, which never computes, does not pay for importing torch).

- One intra-op thread per computation: sessions run in parallel threads, and on a small server (2 cores here,
  1-2 on Community Cloud) two torch threads per session fight each other and get several times slower.
- `run(fn, ...)`: heavy work runs on a fixed pool of one thread per core. Forty students moving sliders
  at once then queue for the cores instead of all computing at once, which is no slower in total, and the
  memory stays bounded: glibc keeps a separate heap (arena) for each thread that allocates concurrently and
  holds on to its peak, and Streamlit starts a new thread for every script run, so computing on script threads
  let the server grow towards 16 arenas x a computation's peak (measured: +340 MB over 200 interactions).
  (`MALLOC_ARENA_MAX` would cap the arenas, but only when set before the process starts.)
- Triton (the GPU kernel compiler that CUDA builds of torch bring along) is never used here; torchvision imports
  torch._dynamo, which loads it if present: ~75 MB of memory and 0.1 s for nothing. CPU builds do not ship it.
"""
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, wait

sys.modules.setdefault("triton", None)  # `import triton` now raises ImportError, which torch treats as "absent"

import torch  # noqa: E402

from ui import name_os_thread  # noqa: E402


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


SLOTS = max(1, int(os.environ.get("IBL_COMPUTE_SLOTS", _usable_cores())))
torch.set_num_threads(int(os.environ.get("IBL_TORCH_THREADS", "1")))

# named in the OS as well: the pool's threads start in whichever thread computes first (often the warm-up's),
# and a thread takes its creator's OS name
_pool = ThreadPoolExecutor(max_workers=SLOTS, thread_name_prefix="ibl-compute", initializer=name_os_thread,
                           initargs=("ibl-compute",))
_local = threading.local()


class Abandoned(Exception):
    """Raised inside a computation whose caller stopped waiting (the user moved on): frees the core sooner."""


def run(fn, *args, progress=None, **kwargs):
    """fn(*args, **kwargs) on one of the SLOTS compute threads; the calling (script) thread waits for the result
    or exception. Only plain computation goes there: st.* calls stay on the script thread.

    With `progress` given, fn gets a progress(done, total) callback of its own; its latest call is passed on to
    `progress` from the calling thread (which may show a progress bar). If the caller stops waiting (Streamlit
    stops a script run from inside that bar when the user changes a widget), fn's next progress call raises
    Abandoned. Calls made on a compute thread run in place, so nesting cannot deadlock.
    """
    if getattr(_local, "on_pool", False):
        return fn(*args, **kwargs) if progress is None else fn(*args, progress=progress, **kwargs)
    latest, abandoned = [], threading.Event()
    if progress is not None:
        def report(*done_total):
            if abandoned.is_set():
                raise Abandoned
            latest.append(done_total)  # list.append is atomic: the waiting thread reads the last entry
        kwargs["progress"] = report
    future = _pool.submit(_on_pool, fn, args, kwargs)
    shown = 0
    try:
        while not wait([future], timeout=None if progress is None else 0.1).done:
            if len(latest) > shown:
                shown = len(latest)
                progress(*latest[-1])
        return future.result()
    finally:
        abandoned.set()


def _on_pool(fn, args, kwargs):
    _local.on_pool = True
    return fn(*args, **kwargs)
