"""Benchmark the running app: time from `streamlit run streamlit_app.py` to a finished first page in headless
Chromium, each page's first (cold) render, and the server's peak resident memory after every page ran.

usage: python -m bench.bench_app [--runs 2]     (prints a table; `python -m bench.run_all` keeps the numbers)

Chromium is Debian's (/usr/bin/chromium) driven by Playwright; the browser is started before the clock starts
(it is the user's, not the app's). A page is finished when its title (h1) is shown and Streamlit reports the
script as not running. Goal: first page < 5 s after start.
"""
from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

from ui.registry import URL_PATHS

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
# An init script that times every message the server sends (window.__iblMsgs, browser clock), installed before the
# app opens its WebSocket. A quick rerun (a fragment) can go from 'running' to 'notRunning' inside one React render
# and leave no trace in the DOM; the messages it sends always arrive. bench.latency and bench.load_test wait on it.
SERVER_MESSAGES = """
window.__iblMsgs = [];
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener('message', () => window.__iblMsgs.push(performance.now()));
  }
};
"""
PAGES = URL_PATHS
FIRST_PAGE_GOAL_S = 5.0
MEMORY_GOAL_MB = 700.0  # the goal for the app with the embedded models (bench_models uses it too)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    """`streamlit run streamlit_app.py` on 127.0.0.1:port (loopback only), output discarded."""
    return subprocess.Popen([sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--browser.gatherUsageStats", "false"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        return urllib.request.urlopen(url + "/_stcore/health", timeout=timeout).read().strip() == b"ok"
    except OSError:
        return False


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 180.0) -> float:
    """Seconds until the health endpoint answers (at once: the warm-up goes on behind it, ui/warmup.py); raises
    if the server dies or never answers."""
    t = time.perf_counter()
    while time.perf_counter() - t < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode}")
        if healthy(url, 1.0):
            return time.perf_counter() - t
        time.sleep(0.05)
    raise RuntimeError("streamlit did not answer its health check")


def proc_memory_mb(pid: int) -> dict:
    """Resident memory now (VmRSS) and its peak so far (VmHWM) of a process, in MB, from /proc."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def wait_page(page, timeout_ms: float = 120_000) -> None:
    """Wait until the page shows its title and the script has finished, and stays finished for a moment."""
    page.wait_for_selector("h1", timeout=timeout_ms)
    page.wait_for_selector(IDLE, timeout=timeout_ms)
    page.wait_for_timeout(300)
    page.wait_for_selector(IDLE, timeout=timeout_ms)


def main(runs: int = 2) -> dict:
    starts, pages, memory = [], [], {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for run in range(runs):
                port = free_port()
                url = f"http://127.0.0.1:{port}"
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                t0 = time.perf_counter()
                proc = start_server(port)
                try:
                    health = wait_healthy(url, proc)
                    page.goto(url + "/")
                    page.wait_for_selector("h1:has-text('Inductive Bias Lab')", timeout=60_000)
                    page.wait_for_selector(IDLE, timeout=60_000)
                    first = time.perf_counter() - t0
                    exc = page.locator("[data-testid='stException']").count()
                    starts.append({"run": run + 1, "health_s": health, "first_page_s": first, "exceptions": exc})
                    if run == runs - 1:  # every page once, cold (first model loads included), then peak memory
                        for name in PAGES:
                            pg = browser.new_page(viewport={"width": 1400, "height": 900})
                            t = time.perf_counter()
                            pg.goto(f"{url}/{name}")
                            wait_page(pg)
                            pages.append({"page": "/" + name, "first_render_s": time.perf_counter() - t - 0.3,
                                          "exceptions": pg.locator("[data-testid='stException']").count(),
                                          "errors": pg.locator("[data-testid='stAlertContentError']").count()})
                            pg.close()
                        memory = proc_memory_mb(proc.pid)
                finally:
                    page.close()
                    stop_server(proc)
        finally:
            browser.close()
    first = statistics.median(r["first_page_s"] for r in starts)
    res = {"runs": starts, "first_page_s": first, "first_page_goal_s": FIRST_PAGE_GOAL_S,
           "ok_first_page": first < FIRST_PAGE_GOAL_S and all(r["exceptions"] == 0 for r in starts),
           "pages": pages, "server_memory_mb": memory, "memory_goal_mb": MEMORY_GOAL_MB,
           "ok_server_memory": bool(memory) and memory["VmHWM"] < MEMORY_GOAL_MB}
    print_table(res)
    return res


def print_table(res: dict) -> None:
    print(f"{'streamlit run -> first page':32} {'health s':>9} {'first page s':>13}  exceptions")
    for r in res["runs"]:
        print(f"{'run ' + str(r['run']):32} {r['health_s']:9.2f} {r['first_page_s']:13.2f}  {r['exceptions']}")
    print(f"median first page {res['first_page_s']:.2f} s (goal < {res['first_page_goal_s']:.0f} s: "
          f"{'ok' if res['ok_first_page'] else 'FAIL'})")
    print(f"\n{'page (first visit, cold caches)':32} {'s':>6}  exceptions  errors")
    for r in res["pages"]:
        print(f"{r['page']:32} {r['first_render_s']:6.2f}  {r['exceptions']:10d}  {r['errors']:6d}")
    m = res["server_memory_mb"]
    if m:
        print(f"server after every page: resident {m['VmRSS']:.0f} MB, peak {m['VmHWM']:.0f} MB "
              f"(goal < {res['memory_goal_mb']:.0f}: {'ok' if res['ok_server_memory'] else 'FAIL'})")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=2, help="cold starts to time (the median is reported)")
    main(ap.parse_args().runs)
