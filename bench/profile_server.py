"""Where a class's script runs spend the server's time: cProfile of every script run in a real server while
`--sessions` sessions open one page at once.

usage: python -m bench.profile_server attention [--sessions 60] [--query lang=zh] [--top 25] [--out FILE.prof]
       python -m bench.profile_server "" --app bench/floor_app.py       # the one-slider floor, for comparison

bench.profile_page profiles one page's file under AppTest; this profiles what a server does for a class: the app's
frame (navigation, language picker, projector switch) and the page, every session's run, on a fresh
`streamlit run streamlit_app.py` started through this module (`python -m bench.profile_server run APP ...`), which
wraps ScriptRunner._run_script in a cProfile timed by the script thread's CPU clock and, on SIGUSR1, writes the runs
profiled since the last signal (and their count and unprofiled CPU) and starts afresh. As bench.page_load: wait for
the warm-up, one unmeasured visitor (every result cached), a signal, the class, a signal.

Printed: the script thread's CPU per run (under the profiler, so slower than unprofiled), the messages a run sends,
where its time goes by
library (each function's own time, by the package its file is in: the lab's code, Streamlit, pandas, pyarrow,
Altair, Pillow, protobuf; Python's builtins and standard library count for the library that called them), and the
lab's functions with the most cumulative time.
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import signal
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# (label, a substring of a function's file that puts its own time there); the first that matches
LIBRARIES = [("the lab's own code (pages/, ui/, core/)", str(ROOT) + "/"),
             ("Streamlit (elements, protos, session state, caches)", "/streamlit/"),
             ("protobuf", "/google/protobuf/"),
             ("pandas", "/pandas/"), ("pyarrow", "/pyarrow/"), ("Altair", "/altair/"), ("Pillow", "/PIL/"),
             ("numpy", "/numpy/"), ("torch", "/torch/"),
             ("Python's standard library and builtins", "")]


def _install(out: Path) -> None:
    """In the server process: profile every script run; on SIGUSR1 write what was profiled since the last one."""
    from streamlit.runtime.scriptrunner.script_runner import ScriptRunner

    original, lock = ScriptRunner._run_script, threading.Lock()
    state = {"stats": None, "runs": 0, "cpu_s": 0.0}

    def run_script(self, rerun_data):
        profile, start = cProfile.Profile(time.thread_time), time.thread_time()
        profile.enable()
        try:
            return original(self, rerun_data)
        finally:
            profile.disable()
            cpu = time.thread_time() - start
            with lock:
                if state["stats"] is None:
                    state["stats"] = pstats.Stats(profile)
                else:
                    state["stats"].add(profile)
                state["runs"] += 1
                state["cpu_s"] += cpu

    def dump(*_):
        with lock:
            if state["stats"] is not None:
                state["stats"].dump_stats(str(out))
            written = out.with_suffix(".json.part")  # renamed whole: the bench reads it once it exists
            written.write_text(json.dumps({"runs": state["runs"], "cpu_s": state["cpu_s"]}))
            os.replace(written, out.with_suffix(".json"))
            state.update(stats=None, runs=0, cpu_s=0.0)

    ScriptRunner._run_script = run_script
    signal.signal(signal.SIGUSR1, dump)


def messages_per_run(stats: pstats.Stats, runs: int) -> float:
    """ForwardMsgs a script run sends (elements, blocks, page and state messages): each costs the server its proto,
    its serialisation and hash, and a wake-up of the event loop, whatever the element."""
    sent = sum(nc for (file, _line, func), (_cc, nc, _tt, _ct, _callers) in stats.stats.items()
               if func == "enqueue" and file.endswith("scriptrunner_utils/script_run_context.py"))
    return sent / max(runs, 1)


def by_library(stats: pstats.Stats) -> list[tuple[str, float]]:
    """Own (not cumulative) seconds per LIBRARIES entry, largest first. Python's own functions (builtins, the
    standard library: copy.deepcopy, threading, isinstance) count for the library whose code called them most (their
    callers' own times in the profile: a builtin Streamlit calls is Streamlit's cost), or stay Python's."""
    python = LIBRARIES[-1][0]
    owner = {f: next(label for label, mark in LIBRARIES if mark in f[0]) for f in stats.stats}
    for _ in range(20):  # callers first: a chain of Python's functions takes its first library caller's
        changed = False
        for f, (_cc, _nc, _tt, _ct, callers) in stats.stats.items():
            if owner[f] != python or not callers:
                continue
            top = max(callers, key=lambda c: callers[c][2])
            if owner.get(top, python) != python:
                owner[f], changed = owner[top], True
        if not changed:
            break
    total = dict.fromkeys((label for label, _ in LIBRARIES), 0.0)
    for f, (_cc, _nc, tt, _ct, _callers) in stats.stats.items():
        total[owner[f]] += tt
    return sorted(total.items(), key=lambda kv: -kv[1])


async def _profile(url: str, pid: int, out: Path, sessions: int, page: str, query: str) -> dict:
    from bench import loadgen
    from bench.page_load import _measure

    def signalled() -> dict:
        os.kill(pid, signal.SIGUSR1)
        for _ in range(100):  # the server writes the count last
            if out.with_suffix(".json").exists():
                break
            time.sleep(0.1)
        return json.loads(out.with_suffix(".json").read_text())

    await _measure(url, pid, 1, lambda i: [loadgen.Open(page, query)])  # the warm-up, then one unmeasured visitor
    signalled()  # what ran so far is not the class's
    out.with_suffix(".json").unlink()
    result = await loadgen.measure(url, sessions, lambda i: [loadgen.Open(page, query)], pid, warm=0)
    return {"load": result, **signalled()}


def profile_server(page: str, sessions: int = 60, query: str = "", out: Path | None = None,
                   app: str = "streamlit_app.py") -> dict:
    from bench import loadgen

    out = Path(out or f"/tmp/profile_server_{page or 'home'}.prof").resolve()
    for stale in (out, out.with_suffix(".json")):
        stale.unlink(missing_ok=True)
    os.environ["IBL_PROFILE_OUT"] = str(out)  # the server inherits it
    with loadgen.serve(app, runner="bench.profile_server") as (url, pid):
        r = asyncio.run(_profile(url, pid, out, sessions, page, query))
    stats = pstats.Stats(str(out))
    return {**r, "out": str(out), "stats": stats, "profiled_s": stats.total_tt, "libraries": by_library(stats),
            "messages_per_run": messages_per_run(stats, r["runs"])}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("page", help="the page's URL path, e.g. attention ('' for the home page)")
    ap.add_argument("--sessions", type=int, default=60)
    ap.add_argument("--query", default="", help="the page's query string, e.g. lang=zh")
    ap.add_argument("--top", type=int, default=25, help="how many of the lab's functions to print")
    ap.add_argument("--app", default="streamlit_app.py", help="the app to serve, e.g. bench/floor_app.py (page '')")
    ap.add_argument("--out", type=Path, help="the cProfile stats (snakeviz, pstats); default /tmp/profile_server_PAGE.prof")
    a = ap.parse_args(argv)
    r = profile_server(a.page, a.sessions, a.query, a.out, a.app)
    step = next(iter(r["load"]["steps"].values()))
    print(f"/{a.page}: {r['runs']} script runs, {1000 * r['cpu_s'] / max(r['runs'], 1):.0f} ms of script-thread CPU "
          f"a run under the profiler (profile total {r['profiled_s']:.2f} s); the class's p95 {step['p95_s']:.2f} s, "
          f"failures {step['failures']}, exceptions {step['exceptions']}; {r['messages_per_run']:.0f} messages a run; "
          f"stats in {r['out']}")
    for label, seconds in r["libraries"]:
        print(f"  {100 * seconds / r['profiled_s']:5.1f} %  {label}")
    buf = io.StringIO()
    r["stats"].stream = buf
    r["stats"].sort_stats("cumulative").print_stats(str(ROOT) + "/(pages|ui|core)/", a.top)
    print(buf.getvalue())
    return r


if __name__ == "__main__":
    if sys.argv[1:2] == ["run"]:  # the server: Streamlit's command line, every script run profiled
        _install(Path(os.environ["IBL_PROFILE_OUT"]))
        from streamlit.web.cli import main as streamlit_main

        sys.exit(streamlit_main())
    main()
