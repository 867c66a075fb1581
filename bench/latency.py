"""How fast the app answers a user in Chromium: first visit of every page, and each page's main controls.

usage: python -m bench.latency [--repeats 5] [--out bench/latency.json] [--only PAGE ...]

- First visit: a fresh server per page (`streamlit run`, health check answered), then straight to /<page> in a
  new browser tab: the worst case, a lecturer opening a bookmark on a server that has just started. Timed from
  `goto` to the page finished (title shown, script not running). Also timed on a warmed server: after the home
  page was opened once and the background warm-up (which starts with the server) had time to finish.
- Controls: on one warmed server, each control is changed `--repeats` times (back and forth, so every change is
  a new value). Timed in the browser: from the input event to the moment Streamlit reports the script (or the
  fragment) finished, read from a MutationObserver on the app's `data-test-script-state` attribute, so the
  Python side of Playwright adds nothing. Sliders are moved with the arrow keys (one step each).
Goals (issue #16): every control that does not train ≤ 300 ms median; the sensitivity grid ≤ 2 s; first visit
≤ 2 s on a warmed server; (issue #27) ≤ 3 s on one that has just answered its health check. On 2 cores, an
otherwise idle machine.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.bench_app import (
    ARGS,
    CHROMIUM,
    IDLE,
    SERVER_MESSAGES,
    free_port,
    start_server,
    stop_server,
    wait_healthy,
)

OUT = Path(__file__).with_name("latency.json")
CONTROL_GOAL_MS, GRID_GOAL_MS, FIRST_VISIT_GOAL_S = 300.0, 2000.0, 2.0
JUST_STARTED_GOAL_S = 3.0  # issue #27: the first page after the health check, on a server that has just started
WARM_UP_S = 20.0  # how long the warmed server had after its home page was opened

OBSERVE = """() => {
  window.__ibl = [];
  const el = document.querySelector("[data-testid='stApp']");
  new MutationObserver(() => window.__ibl.push([performance.now(), el.getAttribute('data-test-script-state')]))
    .observe(el, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""
# finished: the server sent something after t0, nothing for QUIET_MS since, and the app is idle; the end is the
# later of the last message and the last script-state change (the browser handles the last message then).
QUIET_MS = 300
FINISHED = f"""t0 => {{
  const m = window.__iblMsgs.filter(t => t >= t0);
  if (!m.length || performance.now() - m[m.length - 1] < {QUIET_MS}) return null;
  if (!document.querySelector("{IDLE}")) return null;
  const s = window.__ibl.filter(([t]) => t >= t0).map(([t]) => t);
  return Math.max(m[m.length - 1], ...s);
}}"""


def open_page(browser, url: str, timeout_ms: float = 120_000):
    pg = browser.new_page(viewport={"width": 1400, "height": 900})
    pg.add_init_script(SERVER_MESSAGES)
    t = time.perf_counter()
    pg.goto(url)
    pg.wait_for_selector("h1", timeout=timeout_ms)
    pg.wait_for_selector(IDLE, timeout=timeout_ms)
    seconds = time.perf_counter() - t
    pg.evaluate(OBSERVE)
    return pg, seconds


def settle(pg, timeout_s: float = 120.0) -> None:
    """Wait until the server has sent nothing for QUIET_MS and the script is idle (a page may rerun after its
    first run)."""
    t0 = pg.evaluate("performance.now() - 1e9")  # any message counts
    pg.wait_for_function(FINISHED, arg=t0, timeout=timeout_s * 1000, polling=50)


def timed(pg, action, timeout_s: float = 120.0) -> float:
    """ms from just before the user's change to the end of the rerun it causes (browser clock). `action` is a
    callable, or (prepare, act): `prepare` (opening a dropdown, say) is not timed, as it reruns nothing."""
    prepare, act = action if isinstance(action, tuple) else (None, action)
    if prepare is not None:
        prepare(pg)
        settle(pg)
    t0 = pg.evaluate("performance.now()")
    act(pg)
    return pg.wait_for_function(FINISHED, arg=t0, timeout=timeout_s * 1000, polling=20).json_value() - t0


# --- controls: (page, name, action factory(i) -> action(pg)), every change a new value ----------------------------
def slider(label: str, first: str = "ArrowRight"):
    """One step per change, alternating from `first` (ArrowLeft for a slider that starts at its maximum)."""
    other = {"ArrowRight": "ArrowLeft", "ArrowLeft": "ArrowRight"}[first]

    def make(i):
        key = first if i % 2 == 0 else other
        return lambda pg: pg.get_by_role("slider", name=label).first.press(key)
    return make


def select(label: str, options: tuple[str, ...]):
    def make(i):
        def open_list(pg):
            box = pg.locator("[data-testid='stSelectbox']").filter(has_text=label).first
            box.locator("input").click()
            pg.get_by_role("option", name=options[i % len(options)], exact=True).wait_for()
        return open_list, lambda pg: pg.get_by_role("option", name=options[i % len(options)], exact=True).click()
    return make


def radio(options: tuple[str, ...]):
    def make(i):
        option = options[i % len(options)]
        return lambda pg: pg.locator("[data-testid='stRadio'] label").filter(has_text=option).first.click()
    return make


def click_chart(selector: str, fx: tuple[float, ...], fy: float = 0.5):
    """Click a chart's plot area at a fraction of its width/height (a point of the line or a grid cell)."""
    def make(i):
        def act(pg):
            box = pg.locator(selector).first.bounding_box()
            pg.mouse.click(box["x"] + box["width"] * fx[i % len(fx)], box["y"] + box["height"] * fy)
        return act
    return make


def key(name: str):
    return lambda i: (lambda pg: pg.keyboard.press(name))


def reveal_next(i):
    """Reveal step i + 1 by its key (after moving on from the step revealed before it)."""
    reveal = lambda pg: pg.keyboard.press("ArrowDown")  # noqa: E731
    return reveal if i == 0 else ((lambda pg: pg.keyboard.press("ArrowRight")), reveal)


CONTROLS = {
    "tour": [("reveal (key ↓)", reveal_next, CONTROL_GOAL_MS), ("next step (key →)", key("ArrowRight"), CONTROL_GOAL_MS)],
    "equivariance": [("shift dx +1 px", slider("Shift right dx (px, negative: left)"), CONTROL_GOAL_MS),
                     ("kernel", select("Kernel", ("Sobel x", "vertical edge")), CONTROL_GOAL_MS),
                     ("border", radio(("circular", "zeros")), CONTROL_GOAL_MS)],
    "attention": [("layer", slider("Layer", "ArrowLeft"), CONTROL_GOAL_MS),
                  ("head", select("Head", ("head 1", "mean over heads")), CONTROL_GOAL_MS)],
    "sensitivity": [("object size", slider("Size (px on the 64-px canvas)"), CONTROL_GOAL_MS),
                    ("rotation", slider("Rotation (°)"), CONTROL_GOAL_MS),
                    ("click a point", click_chart("[data-testid='stVegaLiteChart']", (0.25, 0.75)), CONTROL_GOAL_MS)],
    "explain": [("class", select("Class to explain", ("star", "each model's top class")), CONTROL_GOAL_MS)],
    "data": [("cell size", slider("Cell size (px)"), CONTROL_GOAL_MS)],
    "biases": [],  # no control but the model pickers (a new pair is measured once, then cached): first visits only
}
def new_grid(i):
    """Switch the path to the 2-D grid for a scene not seen before (each time another rotation): not cached."""
    def back_and_turn(pg):
        pg.locator("[data-testid='stRadio'] label").filter(has_text="horizontal").first.click()
        pg.wait_for_selector(IDLE)
        pg.get_by_role("slider", name="Rotation (°)").first.press("ArrowRight")
        pg.wait_for_selector(IDLE)
        settle(pg)
    return back_and_turn, lambda pg: pg.locator("[data-testid='stRadio'] label").filter(has_text="grid").first.click()


GRID = ("sensitivity", "path: grid (new scene)", new_grid, GRID_GOAL_MS)


def first_visits(browser, pages: list[str]) -> list[dict]:
    rows = []
    for name in pages:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = start_server(port)
        try:
            health = wait_healthy(url, proc)  # the server answers at once; its warm-up goes on behind (ui/warmup.py)
            pg, cold = open_page(browser, f"{url}/{name}")
            pg.close()
        finally:
            stop_server(proc)
        port = free_port()  # a second server, so that this page's own first run has not warmed it
        url = f"http://127.0.0.1:{port}"
        proc = start_server(port)
        try:
            wait_healthy(url, proc)
            home, _ = open_page(browser, url)  # the warm-up started with the server (ui/warmup.py)
            home.close()
            time.sleep(WARM_UP_S)
            pg, warm = open_page(browser, f"{url}/{name}")
            pg.close()
        finally:
            stop_server(proc)
        rows.append({"page": name, "health_s": health, "just_started_s": cold, "warmed_s": warm})
        print(f"first visit /{name:14} health after {health:5.1f} s, then just started {cold:5.2f} s   "
              f"warmed server {warm:5.2f} s", flush=True)
    return rows


def control_times(browser, url: str, pages: list[str], repeats: int) -> list[dict]:
    rows = []
    for name in pages:
        pg, _ = open_page(browser, f"{url}/{name}")
        settle(pg)
        controls = list(CONTROLS.get(name, []))
        if name == GRID[0]:
            controls.append(GRID[1:])
        for label, make, goal in controls:
            ms = [timed(pg, make(i)) for i in range(repeats)]
            med = statistics.median(ms)
            rows.append({"page": name, "control": label, "median_ms": med, "max_ms": max(ms), "runs_ms": ms,
                         "goal_ms": goal, "ok": med <= goal})
            print(f"/{name:14} {label:22} median {med:7.0f} ms  max {max(ms):7.0f} ms  goal ≤ {goal:.0f}: "
                  f"{'ok' if med <= goal else 'FAIL'}", flush=True)
        pg.close()
    return rows


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", nargs="*", default=list(CONTROLS), help="pages to measure")
    ap.add_argument("--skip-first-visits", action="store_true")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)

    res = {"generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            if not args.skip_first_visits:
                res["first_visits"] = first_visits(browser, args.only)
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            proc = start_server(port)
            try:
                wait_healthy(url, proc)
                open_page(browser, url)[0].close()  # starts the warm-up: controls are timed on a warmed server
                time.sleep(WARM_UP_S)
                res["controls"] = control_times(browser, url, args.only, args.repeats)
            finally:
                stop_server(proc)
        finally:
            browser.close()
    res["ok"] = all(r["ok"] for r in res["controls"]) and all(
        r["warmed_s"] <= FIRST_VISIT_GOAL_S and r["just_started_s"] <= JUST_STARTED_GOAL_S
        for r in res.get("first_visits", []))
    args.out.write_text(json.dumps(res, indent=1) + "\n")
    print(f"wrote {args.out}: {'all goals met' if res['ok'] else 'goals missed'}")
    return res


if __name__ == "__main__":
    main()
