"""A class opening one page at once, against the one-slider floor app on the same machine, with the server's CPU per
script run: the before / after figure of a change to a page's per-run cost.

usage: python -m bench.page_load attention [--sessions 60] [--repeats 2] [--query lang=zh] [--out FILE]

For each repeat: a fresh `streamlit run streamlit_app.py` (loadgen.serve), wait until its warm-up thread has ended
(ui/warmup.py; it steps aside while visitors run, so a quiet moment alone does not mean it is done) and the server is
quiet (classroom.quiet), one unmeasured visitor opens the page (every result cached), then
`--sessions` sessions open it in the same instant; then bench/floor_app.py on a fresh server of its own, opened and
its slider moved by as many sessions. Per repeat: the page's p50 / p95 / max, the floor's open p95, the ratio, and
the server's CPU seconds per script run (the whole server process over the measured window, divided by the runs:
less sensitive than wall clock to other work on the machine, which should be given with every figure).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

from bench import loadgen
from bench.classroom import quiet, warm_up_tasks
from bench.loadgen import Open

OUT_DIR = Path(__file__).parent


async def _measure(url: str, pid: int, sessions: int, script, limit: float = 300.0) -> dict:
    start = time.perf_counter()
    warm_up = next(iter(warm_up_tasks(pid)), None)  # the warm-up itself: the oldest of its name
    while warm_up is not None and warm_up.exists() and time.perf_counter() - start < limit:
        await asyncio.sleep(0.5)
    waited = round(time.perf_counter() - start, 1) + await quiet(pid)
    result = await loadgen.measure(url, sessions, script, pid)
    return {"quiet_after_s": waited, **result}


def one_repeat(page: str, query: str, sessions: int) -> dict:
    """The lab's page and the floor, each on a fresh server; the figures of one repeat."""
    out = {"load_average_start": [round(x, 2) for x in os.getloadavg()]}
    with loadgen.serve("streamlit_app.py") as (url, pid):
        lab = asyncio.run(_measure(url, pid, sessions, lambda i: [Open(page, query)]))
    with loadgen.serve(loadgen.FLOOR_APP.relative_to(loadgen.ROOT)) as (url, pid):
        floor = asyncio.run(_measure(url, pid, sessions, loadgen.SCRIPTS["floor"]))
    step, floor_open = lab["steps"][f"open /{page}"], floor["steps"]["open /"]
    runs = step["count"] - step["failures"]
    out.update({"lab": lab, "floor": floor, "p50_s": step["p50_s"], "p95_s": step["p95_s"], "max_s": step["max_s"],
                "failures": step["failures"], "exceptions": step["exceptions"], "floor_open_p95_s": floor_open["p95_s"],
                "x_floor_p95": round(step["p95_s"] / floor_open["p95_s"], 1) if step["p95_s"] else None,
                "server_cpu_ms_per_run": round(1000 * lab["server"]["cpu_s"] / max(runs, 1), 1),
                "floor_cpu_ms_per_run": round(1000 * floor["server"]["cpu_s"] / (2 * sessions), 1),
                "load_average_end": [round(x, 2) for x in os.getloadavg()]})
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("page", help="the page's URL path, e.g. attention")
    ap.add_argument("--sessions", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--query", default="", help="the page's query string, e.g. lang=zh")
    ap.add_argument("--label", default="", help="what this run measures, e.g. 'before' (kept in the JSON)")
    ap.add_argument("--out", type=Path, help="default: bench/page_load_<page>.json")
    a = ap.parse_args(argv)
    repeats = [one_repeat(a.page, a.query, a.sessions) for _ in range(a.repeats)]
    result = {"command": "python -m bench.page_load " + " ".join(sys.argv[1:] if argv is None else argv),
              "label": a.label, "page": a.page, "sessions": a.sessions, "repeats": repeats}
    (a.out or OUT_DIR / f"page_load_{a.page}.json").write_text(json.dumps(result, indent=1) + "\n")
    print(f"{'repeat':>6} {'p50 s':>7} {'p95 s':>7} {'max s':>7} {'floor p95':>9} {'x floor':>7} "
          f"{'CPU ms/run':>10} {'floor':>6} {'fail':>4} {'exc':>4}  load")
    for i, r in enumerate(repeats):
        print(f"{i + 1:6d} {r['p50_s']:7.2f} {r['p95_s']:7.2f} {r['max_s']:7.2f} {r['floor_open_p95_s']:9.2f} "
              f"{r['x_floor_p95']:7.1f} {r['server_cpu_ms_per_run']:10.1f} {r['floor_cpu_ms_per_run']:6.1f} "
              f"{r['failures']:4d} {r['exceptions']:4d}  {r['load_average_start'][0]}-{r['load_average_end'][0]}")
    return result


if __name__ == "__main__":
    main()
