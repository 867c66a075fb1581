"""From `streamlit run streamlit_app.py` to the first page finished, whichever page is asked for first (issue #33:
≤ 5 s on an idle 2-core machine). Protocol level (bench/loadgen.py's Session), no browser: a browser adds loading
the frontend's JavaScript (about half a second here, bench/bench_app.py measures that path).

usage: python -m bench.cold_start [--pages "" tour data] [--runs 2] [--later attention] [--out bench/cold_start.json]

For each page and run, a fresh server: the clock starts just before `streamlit run`; it reads when the server prints
"You can now view", when /_stcore/health first answers (polled every 50 ms), and when one session that connects as
soon as it answers has its first page finished (`script_finished`), and the server's CPU seconds by then (all its
threads, and of those the warm-up thread's: on a busy machine the wall clock stretches, the CPU much less). With `--later PAGE`, a second session opens PAGE
--later-at seconds after the launch (a later visitor: the warm-up has had its time). Also counted: exceptions shown,
and the server's output lines with "missing ScriptRunContext". The 1-minute load average is printed with each run:
on a busy machine the figures are upper bounds.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_app import free_port, healthy, stop_server
from bench.classroom import warm_up_cpu_s
from bench.loadgen import Open, run_sessions, usage

ROOT = Path(__file__).resolve().parent.parent
OUT = Path(__file__).with_name("cold_start.json")
GOAL_S = 5.0


def one(page: str, later: str | None, later_at: float, timeout: float = 180.0) -> dict:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true",
                             "--browser.gatherUsageStats", "false"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    row: dict = {"page": "/" + page, "load_1min": round(load, 2)}
    try:
        view = None
        while time.perf_counter() - t0 < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {proc.returncode}")
            if view is None and "You can now view" in Path(log.name).read_text():
                view = time.perf_counter() - t0
            if healthy(url, 1.0):
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("no health check answered")
        row["health_s"] = round(time.perf_counter() - t0, 2)
        row["view_line_s"] = round(view, 2) if view is not None else None
        samples = []

        async def both():
            async def first():
                samples.extend(await run_sessions(url, 1, [Open(page)], timeout=timeout))
                row["first_page_s"] = round(time.perf_counter() - t0, 2)
                row["server_cpu_s"] = round(usage(proc.pid)[0], 2)  # launch to first page, every thread
                row["warm_up_cpu_s"] = round(warm_up_cpu_s(proc.pid), 2)  # of which the warm-up's

            async def second():
                await asyncio.sleep(max(0.0, later_at - (time.perf_counter() - t0)))
                t = time.perf_counter()
                got = await run_sessions(url, 1, [Open(later)], timeout=timeout)
                samples.extend(got)
                row["later_page"], row["later_s"] = "/" + later, round(time.perf_counter() - t, 2)

            await asyncio.gather(first(), *([second()] if later else []))

        asyncio.run(both())
        row["failures"] = [s.error for s in samples if s.seconds is None]
        row["exceptions"] = sum(s.exceptions for s in samples)
        row["exception_messages"] = sorted({m[:300] for s in samples for m in s.shown})
    finally:
        stop_server(proc)
        out = Path(log.name).read_text()
        log.close()
        os.unlink(log.name)
    row["missing_context_lines"] = out.count("missing ScriptRunContext")
    return row


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", nargs="*", default=["", "tour", "data"], help='URL paths ("" is the home page)')
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--later", default=None, help="a page a second visitor opens --later-at s after the launch")
    ap.add_argument("--later-at", type=float, default=40.0)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    rows = []
    print(f"{'first page':14} {'load':>5} {'view line s':>11} {'health s':>9} {'page done s':>11} {'cpu s':>6} {'warm-up':>7}  later", flush=True)
    for run in range(args.runs):
        for page in args.pages:
            r = one(page, args.later, args.later_at)
            r["run"] = run + 1
            rows.append(r)
            later = f"{r['later_page']} {r['later_s']:.2f} s" if "later_s" in r else ""
            view = f"{r['view_line_s']:11.2f}" if r["view_line_s"] is not None else f"{'-':>11}"
            print(f"{r['page']:14} {r['load_1min']:5.2f} {view} {r['health_s']:9.2f} {r.get('first_page_s', 0):11.2f}"
                  f" {r.get('server_cpu_s', 0):6.2f} {r.get('warm_up_cpu_s', 0):7.2f}  {later}  exceptions {r['exceptions']} failures {len(r['failures'])} "
                  f"'missing ScriptRunContext' lines {r['missing_context_lines']}", flush=True)
    worst = max(r.get("first_page_s", float("inf")) for r in rows)
    res = {"generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cores": os.cpu_count(),
           "goal_s": GOAL_S, "runs": rows, "worst_first_page_s": worst,
           "median_first_page_s": statistics.median(r.get("first_page_s", float("inf")) for r in rows),
           "ok": worst <= GOAL_S and not any(r["exceptions"] or r["failures"] for r in rows)}
    args.out.write_text(json.dumps(res, indent=1) + "\n")
    print(f"worst first page {worst:.2f} s (goal ≤ {GOAL_S:.0f} s on an idle machine); wrote {args.out}")
    return res


if __name__ == "__main__":
    main()
