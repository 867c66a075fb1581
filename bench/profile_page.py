"""Where a warm script run of a page spends its time: cProfile over the script thread of AppTest runs.

usage: python -m bench.profile_page attention [--runs 10] [--query lang=zh] [--top 25] [--out /tmp/attention.prof]

The page runs once unmeasured (its models, results and caches filled), then `--runs` times under cProfile, as a
visitor who has just opened it would cost the server when every result is cached. Printed: the script thread's CPU
time per run (time.thread_time: less sensitive to a busy machine than wall clock), the share of the profiled time in
a few named places (Altair's to_dict and validation, Arrow conversion, PNG encoding, protobuf, st.image...), and the
functions with the most cumulative time, all in the script thread's CPU time (cProfile timed by time.thread_time). Everything runs on the script thread, as in a server (ui.compute hands
torch work to its pool, but a warm run has none); AppTest's own bookkeeping between runs is not counted.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

from streamlit.runtime.scriptrunner.script_runner import ScriptRunner
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
# (label, a substring of "file:function" that marks the place); a call counts once, under the first that matches
PLACES = [("st.altair_chart: Altair to Vega-Lite (to_dict, validation, Arrow)", "_convert_altair_to_vega_lite_spec"),
          ("st.vega_lite_chart: spec JSON and element", "vega_charts.py:_vega_lite_chart"),
          ("st.image: encoding and media files", "image_utils.py:marshall_images"),
          ("PNG encoding by the page (ui.png)", "ui/__init__.py:png"),
          ("Pillow text drawing", "ImageDraw.py:text"),
          ("st.dataframe: Arrow", "arrow.py:dataframe"),
          ("st.download_button (CSV)", "button.py:download_button"),
          ("pandas to_csv", "generic.py:to_csv"),
          ("st.cache_data hits (hash args, unpickle)", "cache_utils.py:__call__")]


def _profiled_runs(profile: cProfile.Profile | None, cpu: list[float]):
    """Wrap ScriptRunner._run_script so that the script thread's run is profiled (unless `profile` is None) and its
    CPU time recorded."""
    original = ScriptRunner._run_script

    def run_script(self, rerun_data):
        start = time.thread_time()
        if profile:
            profile.enable()
        try:
            return original(self, rerun_data)
        finally:
            if profile:
                profile.disable()
            cpu.append(time.thread_time() - start)

    return original, run_script


def place_shares(stats: pstats.Stats) -> list[tuple[str, float]]:
    """Cumulative seconds in each of PLACES (cProfile's cumulative time counts a recursive call once)."""
    total = {}
    for (file, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():
        where = f"{file}:{func}"
        for label, mark in PLACES:
            if mark in where:
                total[label] = total.get(label, 0.0) + ct
                break
    return sorted(total.items(), key=lambda kv: -kv[1])


def profile_page(page: str, runs: int = 10, query: dict | None = None, out: Path | None = None,
                 profiled: bool = True) -> dict:
    at = AppTest.from_file(str(ROOT / "pages" / f"{page}.py"), default_timeout=300)
    at.query_params.update(query or {})
    at.run()
    if at.exception:
        raise RuntimeError([e.value for e in at.exception])
    # timed by the thread's CPU clock: time the script thread waits (for the GIL, on a busy machine) is not counted
    profile, cpu = cProfile.Profile(time.thread_time) if profiled else None, []
    original, wrapped = _profiled_runs(profile, cpu)
    ScriptRunner._run_script = wrapped
    try:
        for _ in range(runs):
            at.run()
    finally:
        ScriptRunner._run_script = original
    result = {"page": page, "runs": runs, "cpu_ms_per_run": sorted(1000 * c for c in cpu)}
    if profile:
        if out:
            profile.dump_stats(str(out))
        stats = pstats.Stats(profile)
        result.update(profiled_s=stats.total_tt, places=place_shares(stats), stats=stats)
    return result


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("page", help="a file name under pages/ without .py, e.g. attention")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--query", action="append", default=[], help="k=v, e.g. lang=zh (repeatable)")
    ap.add_argument("--top", type=int, default=25, help="how many functions to print by cumulative time")
    ap.add_argument("--out", type=Path, help="write the cProfile stats here (snakeviz, pstats)")
    ap.add_argument("--cpu-only", action="store_true", help="no profiler: only the CPU per run, undisturbed")
    a = ap.parse_args(argv)
    r = profile_page(a.page, a.runs, dict(q.split("=", 1) for q in a.query), a.out, not a.cpu_only)
    cpu = r["cpu_ms_per_run"]
    print(f"{a.page}: {r['runs']} warm runs, script-thread CPU per run: median {cpu[len(cpu) // 2]:.0f} ms, "
          f"min {cpu[0]:.0f}, max {cpu[-1]:.0f}" + ("" if a.cpu_only else
          f" (profiled, so slower than unprofiled; profile total {r['profiled_s']:.2f} s)"))
    if a.cpu_only:
        return r
    for label, seconds in r["places"]:
        print(f"  {100 * seconds / r['profiled_s']:5.1f} %  {label}")
    buf = io.StringIO()
    r["stats"].stream = buf
    r["stats"].sort_stats("cumulative").print_stats(a.top)
    print(buf.getvalue())
    return r


if __name__ == "__main__":
    sys.exit(main() and 0)
