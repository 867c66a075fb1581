"""Protocol-level load generator: many Streamlit sessions in one asyncio process, speaking the server's own WebSocket
protocol, no browser.

usage: python -m bench.loadgen --url http://127.0.0.1:8501 --sessions 60 --script pages --out bench/loadgen.json
       python -m bench.loadgen --serve streamlit_app.py --floor --sessions 60 --script pages

Why: bench/load_test.py drives Chromium, whose renderers share the server's cores, so it measures the browsers as much
as the server. A session here does what Streamlit's frontend does (1.67; read from its bundled JavaScript): it
connects to /_stcore/stream with the subprotocol "streamlit", sends a BackMsg rerun_script (ClientState: query
string, page, every widget value it set, the hashes of the messages it has cached) and reads ForwardMsgs (new_session
starts a run, deltas draw it, script_finished ends it). It keeps the frontend's message cache, because the server
sends a large element it knows the client holds as a bare ref_hash, and it keeps a timer per `auto_rerun` message,
because a fragment with run_every only reruns when the client asks for it. Media (st.image URLs) is not fetched.

A step's time runs from sending the rerun (or connecting, for a session's first page) to that run's script_finished.
Per step: count, p50/p95/max, failures (connection errors, timeouts, missing widgets) and exceptions shown; the
server's CPU seconds and peak resident memory (itself and its children, from /proc). `--floor` also measures
bench/floor_app.py, one slider and one line of text, so the lab's figures read as multiples of the floor's p95.

Python API, for other benches: a script is a list of steps (or a function of the session's index that returns one);
a step is any object with a `name` and `async run(session) -> exceptions shown` (raise to fail it).
    script = lambda i: [Open("tour", "step=2"), Set(i % 10, kind="slider", key="size"), Click(label="Reveal"),
                        WaitFor(lambda s: "answer" in s.text(), "answer shown")]
    result = asyncio.run(measure("http://127.0.0.1:8501", 100, script, pid=server_pid))
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import connect

from bench.bench_app import free_port, stop_server, wait_healthy

ROOT = Path(__file__).resolve().parent.parent
FLOOR_APP = Path(__file__).with_name("floor_app.py")
OUT = Path(__file__).with_name("loadgen.json")
EARLY, FRAGMENT_DONE = ForwardMsg.FINISHED_EARLY_FOR_RERUN, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY
# The WidgetState field the frontend fills for each widget element (streamlit/elements/widgets: value_type=...).
VALUE_FIELD = {"slider": "double_array_value", "button": "trigger_value", "checkbox": "bool_value",
               "number_input": "double_value", "selectbox": "string_value", "radio": "string_value",
               "text_input": "string_value", "text_area": "string_value", "color_picker": "string_value",
               "multiselect": "string_array_value", "select_slider": "string_array_value",
               "button_group": "string_array_value"}


@dataclass
class Sample:
    step: str
    seconds: float | None  # None: the step failed
    exceptions: int = 0
    error: str = ""


class Session:
    """One browser tab, as the server sees it: the page it shows, its widget values, its message cache."""

    def __init__(self, url: str, samples: list[Sample], timeout: float = 120.0):
        self.ws_url = urlparse(url)._replace(scheme="ws", path="/_stcore/stream").geturl()
        self.samples, self.timeout = samples, timeout
        self.ws = None
        self.closed = ""  # why the connection ended, once it has
        self.index = 0  # which session of a run (run_sessions sets it), for scripts that differ per session
        self.page = self.page_hash = self.query = ""
        self.pages: dict[str, str] = {}  # url path -> page_script_hash, from the navigation message
        self.elements: dict[tuple, tuple] = {}  # delta path -> (run id that drew it, Element): what the page shows
        self.widgets: dict[str, WidgetState] = {}  # what this tab has set; the frontend sends it with every rerun
        self.exceptions: list[str] = []  # the message of every exception element shown
        self.fragment_runs = 0
        self.page_not_found = False
        self._cache: dict[str, list] = {}  # hash -> [ForwardMsg, full runs seen when last used]
        self._full_runs, self._max_age = 0, 2  # the age limit comes with new_session's config
        self._run, self._run_exceptions = ("", ()), 0  # run id and fragment ids of the run in progress
        self._full: asyncio.Future | None = None  # resolved by the next full run's script_finished
        self._fragment_waits: dict[str, list[float]] = {}  # fragment id -> send times of its pending reruns
        self._timers: dict[str, tuple[float, asyncio.Task]] = {}
        self._changed = asyncio.Condition()  # notified after every message, for wait_for

    # -- what a predicate or a step reads --
    def texts(self) -> list[str]:
        """The text of every element the page shows that has a body (markdown, text, headings, alerts), in order."""
        bodies = (getattr(getattr(el, el.WhichOneof("type") or "", None), "body", None)
                  for _, el in map(self.elements.get, sorted(self.elements)))
        return [b for b in bodies if isinstance(b, str)]

    def text(self) -> str:
        return "\n".join(self.texts())

    def widget(self, kind: str | None = None, label: str | None = None, key: str | None = None) -> tuple[str, str]:
        """(element type, widget id) of the first widget on the page that matches; ids end in "-<key>"."""
        for path in sorted(self.elements):
            el = self.elements[path][1]
            k = el.WhichOneof("type")
            w = getattr(el, k) if k else None
            wid = getattr(w, "id", "")
            if wid and k in VALUE_FIELD and (kind is None or k == kind) and (label is None or w.label == label) \
                    and (key is None or wid.endswith("-" + key)):
                return k, wid
        raise LookupError(f"no widget kind={kind} label={label} key={key} on /{self.page}")

    def set_widget(self, wid: str, kind: str, value) -> None:
        state, field = WidgetState(id=wid), VALUE_FIELD[kind]
        if field.endswith("_array_value"):
            getattr(state, field).data.extend(value if isinstance(value, (list, tuple)) else [value])
        else:
            setattr(state, field, value)
        self.widgets[wid] = state

    # -- what steps do --
    async def connect(self) -> None:
        self.ws = await asyncio.wait_for(
            connect(self.ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=None), self.timeout)
        self._reader = asyncio.create_task(self._read())

    async def open(self, page: str = "", query: str = "") -> int:
        if self.ws is None:
            await self.connect()
        for fid in list(self._timers):  # the frontend stops a page's timers when it leaves the page
            self._stop_timer(fid)
        self.page, self.query, self.widgets = page, query, {}
        self._fragment_waits = {}  # the old page's fragments: no run will answer them
        self.page_hash = self.pages.get(page, "")  # unknown yet (first page): the server resolves page_name
        self.page_not_found = False
        exceptions = await self.rerun()
        if self.page_not_found:
            raise LookupError(f"page not found: /{page}")
        return exceptions

    async def rerun(self, fragment_id: str = "") -> int:
        """Send a rerun as the frontend does; for a full run, wait for its script_finished and return the number of
        exceptions it showed (a compile error counts as one). A fragment rerun only registers its send time."""
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string, state.page_script_hash = self.query, self.page_hash
        if not self.page_hash:
            state.page_name = self.page
        state.widget_states.widgets.extend(self.widgets.values())
        state.cached_message_hashes.extend(self._cache)
        state.fragment_id, state.is_auto_rerun = fragment_id, bool(fragment_id)
        # a button's trigger is true for one run only: the frontend drops it once sent
        self.widgets = {k: w for k, w in self.widgets.items() if w.WhichOneof("value") != "trigger_value"}
        if self.closed:
            raise ConnectionError(self.closed)
        if fragment_id:
            self._fragment_waits.setdefault(fragment_id, []).append(time.perf_counter())
            await self.ws.send(msg.SerializeToString())
            return 0
        self._full = asyncio.get_running_loop().create_future()
        await self.ws.send(msg.SerializeToString())
        return await asyncio.wait_for(self._full, self.timeout)

    async def wait_for(self, predicate, timeout: float | None = None) -> None:
        """Wait until predicate(session) holds (checked after every message) or the connection ends."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: predicate(self) or self.closed),
                                   timeout or self.timeout)
        if not predicate(self):
            raise ConnectionError(self.closed)

    async def close(self) -> None:
        for fid in list(self._timers):
            self._stop_timer(fid)
        if self.ws is not None:
            await self.ws.close()
            await asyncio.wait([self._reader], timeout=10)

    # -- what the server sends --
    async def _read(self) -> None:
        try:
            async for data in self.ws:
                msg = ForwardMsg()
                msg.ParseFromString(data)
                self._handle(self._resolve(msg))
                async with self._changed:
                    self._changed.notify_all()
            self.closed = "connection closed"
        except Exception as e:  # noqa: BLE001 - any end of the connection ends the session, with its reason
            self.closed = f"{type(e).__name__}: {e}"
        if self._full is not None and not self._full.done():
            self._full.set_exception(ConnectionError(self.closed))
        async with self._changed:
            self._changed.notify_all()

    def _resolve(self, msg: ForwardMsg) -> ForwardMsg:
        """The frontend's ForwardMsg cache: keep cacheable messages, replace a ref_hash by the message it names."""
        if msg.metadata.cacheable:
            self._cache[msg.hash] = [msg, self._full_runs]
        if msg.WhichOneof("type") != "ref_hash":
            return msg
        entry = self._cache[msg.ref_hash]  # a KeyError here is a server bug: it only refers to what we reported
        entry[1] = self._full_runs
        full = ForwardMsg()
        full.CopyFrom(entry[0])
        full.metadata.CopyFrom(msg.metadata)  # the reference carries where this use of it goes (delta path)
        return full

    def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self._run, self._run_exceptions = (msg.metadata.run.script_run_id, tuple(msg.metadata.run.fragment_ids)), 0
            self._max_age = msg.new_session.config.max_cached_message_age or self._max_age
        elif kind == "navigation":  # st.navigation: the pages and the one shown, as links in the sidebar would go
            self.pages = {p.url_pathname: p.page_script_hash for p in msg.navigation.app_pages}
            self.page_hash = msg.navigation.page_script_hash
        elif kind == "page_info_changed":  # the app set st.query_params; the frontend's URL follows
            self.query = msg.page_info_changed.query_string
        elif kind == "page_not_found":
            self.page_not_found = True
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            el = msg.delta.new_element
            self.elements[tuple(msg.metadata.delta_path)] = (self._run[0], el)
            if el.WhichOneof("type") == "exception":
                self._run_exceptions += 1
                self.exceptions.append(el.exception.message)
        elif kind == "auto_rerun":
            self._start_timer(msg.auto_rerun.fragment_id, msg.auto_rerun.interval)
        elif kind == "stop_auto_rerun":
            for fid in msg.stop_auto_rerun.fragment_ids:
                self._stop_timer(fid)
        elif kind == "script_finished":
            self._finished(msg.script_finished)

    def _finished(self, status: int) -> None:
        if status == EARLY:  # interrupted by a newer rerun, which will finish in its place
            return
        now, (run_id, fragments) = time.perf_counter(), self._run
        # a fragment run answers its own fragment's pending reruns; a full run redraws every fragment, so it answers
        # them all (the server drops fragment reruns asked for while a full run is going)
        for fid in fragments if status == FRAGMENT_DONE else list(self._fragment_waits):
            for sent in self._fragment_waits.pop(fid, []):
                self.samples.append(Sample(f"fragment /{self.page}", now - sent,
                                           self._run_exceptions if status == FRAGMENT_DONE else 0))
        if status == FRAGMENT_DONE:
            self.fragment_runs += 1
            return
        # a full run: the frontend drops the elements it did not draw and ages its message cache
        self.elements = {p: v for p, v in self.elements.items() if v[0] == run_id}
        self._full_runs += 1
        self._cache = {h: e for h, e in self._cache.items() if self._full_runs - e[1] <= self._max_age}
        if self._full is not None and not self._full.done():
            self._full.set_result(self._run_exceptions + (status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR))

    def _start_timer(self, fid: str, interval: float) -> None:
        if fid in self._timers and self._timers[fid][0] == interval:  # every full run announces it again
            return
        self._stop_timer(fid)
        self._timers[fid] = (interval, asyncio.create_task(self._tick(fid, interval)))

    def _stop_timer(self, fid: str) -> None:
        if fid in self._timers:
            self._timers.pop(fid)[1].cancel()

    async def _tick(self, fid: str, interval: float) -> None:
        while not self.closed:  # like the frontend's setInterval: fires whether or not the last rerun has finished
            await asyncio.sleep(interval)
            try:
                await self.rerun(fragment_id=fid)
            except Exception:  # noqa: BLE001 - the connection went; the session's steps report it
                return


# -- steps --
class Open:
    """Open a page by its URL path ("" for the default page) with a query string, e.g. Open("tour", "step=2")."""

    def __init__(self, page: str = "", query: str = "", name: str | None = None):
        self.page, self.query, self.name = page, query, name or f"open /{page}"

    async def run(self, s: Session) -> int:
        return await s.open(self.page, self.query)


class Set:
    """Change a widget found by element type, label or key, then rerun (as the frontend does on a change)."""

    def __init__(self, value=None, kind: str | None = None, label: str | None = None, key: str | None = None,
                 name: str | None = None):
        self.value, self.kind, self.label, self.key = value, kind, label, key
        self.name = name or f"set {label or key or kind}"

    async def run(self, s: Session) -> int:
        kind, wid = s.widget(self.kind, self.label, self.key)
        s.set_widget(wid, kind, self.value)
        return await s.rerun()


def Click(label: str | None = None, key: str | None = None, name: str | None = None) -> Set:
    return Set(True, "button", label, key, name or f"click {label or key}")


class WaitFor:
    """Wait until predicate(session) holds, e.g. a text a fragment's auto-rerun shows; timed like any step."""

    def __init__(self, predicate, name: str, timeout: float | None = None):
        self.predicate, self.name, self.timeout = predicate, name, timeout

    async def run(self, s: Session) -> int:
        await s.wait_for(self.predicate, self.timeout)
        return 0


class Pause:
    """Think time between steps; not recorded."""
    record = False

    def __init__(self, seconds: float):
        self.seconds, self.name = seconds, f"pause {seconds}"

    async def run(self, s: Session) -> int:
        await asyncio.sleep(self.seconds)
        return 0


SCRIPTS = {  # built-in scripts: the lab's two first pages (a class arriving), the floor app
    "pages": lambda i: [Open(""), Open("tour", "step=2")],
    "floor": lambda i: [Open(""), Set(i % 101, kind="slider", name="set slider")],
}


def steps_from_json(items: list[dict]) -> list:
    """[{"open": "tour", "query": "step=2"}, {"set": {"label": "Value"}, "value": 3}, {"click": {"key": "go"}},
    {"pause": 1}]"""
    kinds = {"open": lambda d: Open(d["open"], d.get("query", "")), "set": lambda d: Set(d.get("value"), **d["set"]),
             "click": lambda d: Click(**d["click"]), "pause": lambda d: Pause(d["pause"])}
    return [kinds[next(k for k in kinds if k in d)](d) for d in items]


async def run_sessions(url: str, sessions: int, script, stagger: float = 0.0, timeout: float = 120.0,
                       keep: list | None = None) -> list[Sample]:
    """Run the script in every session; all start at once (stagger 0) or session i after i * stagger seconds.
    A failed step ends its session's script (later steps depend on it). `keep` receives the closed sessions."""
    samples: list[Sample] = []

    async def one(i: int) -> None:
        s = Session(url, samples, timeout)
        s.index = i
        await asyncio.sleep(i * stagger)
        try:
            for step in (script(i) if callable(script) else script):
                t = time.perf_counter()
                try:
                    exceptions = await step.run(s)
                except Exception as e:  # noqa: BLE001 - refused, closed, timed out, widget missing: a failure
                    samples.append(Sample(step.name, None, 0, f"{type(e).__name__}: {e}"[:200]))
                    break
                if getattr(step, "record", True):
                    samples.append(Sample(step.name, time.perf_counter() - t, exceptions))
        finally:
            await s.close()
            if keep is not None:
                keep.append(s)

    await asyncio.gather(*(one(i) for i in range(sessions)))
    return samples


def pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, max(0, round(q / 100 * (len(v) - 1))))]


def summarize(samples: list[Sample]) -> dict:
    out = {}
    for name in dict.fromkeys(s.step for s in samples):  # in first-seen order
        mine = [s for s in samples if s.step == name]
        ok = [s.seconds for s in mine if s.seconds is not None]
        out[name] = {"count": len(mine), "p50_s": pct(ok, 50) if ok else None, "p95_s": pct(ok, 95) if ok else None,
                     "max_s": max(ok) if ok else None, "failures": len(mine) - len(ok),
                     "exceptions": sum(s.exceptions for s in mine),
                     "errors": sorted({s.error for s in mine if s.error})[:3]}
    return out


# -- the server's side: CPU and memory from /proc (psutil is not installed here) --
TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()  # after "(comm)": field 3 onwards


def _tree(pid: int) -> list[int]:
    """pid and its live descendants."""
    parents = {}
    for p in Path("/proc").glob("[0-9]*"):
        try:
            parents[int(p.name)] = int(_stat(int(p.name))[1])
        except (OSError, ValueError, IndexError):
            continue
    tree, grew = {pid}, True
    while grew:
        new = {c for c, pp in parents.items() if pp in tree} - tree
        tree, grew = tree | new, bool(new)
    return sorted(tree)


class ServerStats:
    """CPU seconds (user + system, the process, its live children and its reaped ones) and resident memory."""

    def __init__(self, pid: int):
        self.pid, self.peak_mb = pid, 0.0
        self.cpu0 = self.cpu()

    def cpu(self) -> float:
        total = 0
        for p in _tree(self.pid):  # utime + stime; for the server also its reaped children's (cutime + cstime)
            f = _stat(p)
            total += int(f[11]) + int(f[12]) + (int(f[13]) + int(f[14]) if p == self.pid else 0)
        return total / TICK

    def sample(self) -> None:
        rss = sum(int(_stat(p)[21]) for p in _tree(self.pid)) * os.sysconf("SC_PAGE_SIZE") / 2**20
        self.peak_mb = max(self.peak_mb, rss)

    async def watch(self, every: float = 0.5) -> None:
        while True:
            self.sample()
            await asyncio.sleep(every)

    def result(self) -> dict:
        self.sample()
        hwm = next(line for line in Path(f"/proc/{self.pid}/status").read_text().splitlines() if line.startswith("VmHWM"))
        return {"pid": self.pid, "cpu_s": round(self.cpu() - self.cpu0, 2), "peak_rss_mb": round(self.peak_mb, 1),
                "vmhwm_mb_since_start": round(int(hwm.split()[1]) / 1024, 1)}


def pid_listening(port: int) -> int | None:
    """The process that listens on a local TCP port, from /proc/net/tcp* and the processes' socket descriptors."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            f = row.split()
            if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{f[9]}]")
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            if os.readlink(fd) in inodes:
                return int(fd.parts[2])
        except OSError:
            continue
    return None


async def measure(url: str, sessions: int, script, pid: int | None = None, stagger: float = 0.0,
                  timeout: float = 120.0) -> dict:
    """One load run: the sessions' summary per step, and the server's CPU and memory over the run when pid is given."""
    stats = ServerStats(pid) if pid else None
    watcher = asyncio.create_task(stats.watch()) if stats else None
    t, own = time.perf_counter(), time.process_time()
    samples = await run_sessions(url, sessions, script, stagger, timeout)
    wall, own = time.perf_counter() - t, time.process_time() - own
    if watcher:
        watcher.cancel()
    return {"url": url, "sessions": sessions, "stagger_s": stagger, "wall_s": round(wall, 2),
            "generator_cpu_s": round(own, 2), "steps": summarize(samples),
            "server": stats.result() if stats else None}


@contextmanager
def serve(app: str | Path):
    """`streamlit run app` on a free loopback port from the repository root, so .streamlit/config.toml (the lab's
    server settings: no file watcher, headless...) applies; yields (url, pid) once /_stcore/health answers."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true",
                             "--browser.gatherUsageStats", "false"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc)
        yield url, proc.pid
    finally:
        stop_server(proc)


def load_script(spec: str):
    if spec in SCRIPTS:
        return SCRIPTS[spec]
    return steps_from_json(json.loads(Path(spec).read_text() if Path(spec).is_file() else spec))


def print_table(runs: list[dict]) -> None:
    print(f"{'app':22} {'step':22} {'n':>4} {'p50 s':>7} {'p95 s':>7} {'max s':>7} {'fail':>5} {'exc':>4} {'x floor':>8}")
    fmt = lambda v: f"{v:7.3f}" if v is not None else f"{'-':>7}"  # noqa: E731
    for run in runs:
        for name, r in run["steps"].items():
            ratio = f"{r['x_floor_p95']:8.1f}" if r.get("x_floor_p95") else ""
            print(f"{run['app'][:22]:22} {name[:22]:22} {r['count']:4d} {fmt(r['p50_s'])} {fmt(r['p95_s'])} "
                  f"{fmt(r['max_s'])} {r['failures']:5d} {r['exceptions']:4d} {ratio}")
        srv = run["server"]
        where = f"server: {srv['cpu_s']} CPU-s, peak RSS {srv['peak_rss_mb']} MB; " if srv else ""
        print(f"{'':22} {where}{run['wall_s']} s wall, generator {run['generator_cpu_s']} CPU-s")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="a running server, e.g. http://127.0.0.1:8501")
    where.add_argument("--serve", metavar="APP", help="start `streamlit run APP` on a free port, measure it, stop it")
    ap.add_argument("--pid", type=int, help="the server's pid with --url (default: whoever listens on its port)")
    ap.add_argument("--sessions", type=int, default=60)
    ap.add_argument("--script", default="pages", help=f"{', '.join(SCRIPTS)}, a JSON file or a JSON list of steps")
    ap.add_argument("--stagger", type=float, default=0.0, help="seconds between session starts (0: all at once)")
    ap.add_argument("--timeout", type=float, default=120.0, help="longest wait for one step")
    ap.add_argument("--floor", action="store_true", help="also measure bench/floor_app.py (its own server, after)")
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args(argv)
    script, runs = load_script(a.script), []
    if a.serve:
        with serve(a.serve) as (url, pid):
            runs.append({"app": a.serve, **asyncio.run(measure(url, a.sessions, script, pid, a.stagger, a.timeout))})
    else:
        pid = a.pid or pid_listening(urlparse(a.url).port or 80)
        runs.append({"app": a.url, **asyncio.run(measure(a.url, a.sessions, script, pid, a.stagger, a.timeout))})
    if a.floor:
        with serve(FLOOR_APP.relative_to(ROOT)) as (url, pid):
            floor = {"app": "bench/floor_app.py",
                     **asyncio.run(measure(url, a.sessions, SCRIPTS["floor"], pid, a.stagger, a.timeout))}
        runs.append(floor)
        base = {"open": floor["steps"]["open /"]["p95_s"], "change": floor["steps"]["set slider"]["p95_s"]}
        for name, r in runs[0]["steps"].items():  # opens against the floor's open, the rest against its change
            ref = base["open" if name.startswith("open ") else "change"]
            if r["p95_s"] and ref:
                r["x_floor_p95"] = round(r["p95_s"] / ref, 2)
    result = {"command": "python -m bench.loadgen " + " ".join(argv if argv is not None else sys.argv[1:]),
              "runs": runs}
    a.out.write_text(json.dumps(result, indent=1) + "\n")
    print_table(runs)
    return result


if __name__ == "__main__":
    main()
