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
    error: str = ""  # why it failed
    shown: tuple = ()  # the messages of the exceptions the session was shown meanwhile


class Session:
    """One browser tab, as the server sees it: the page it shows, its widget values, its message cache."""

    def __init__(self, url: str, samples: list[Sample], timeout: float = 120.0):
        self.url, self.ws_url = url.rstrip("/"), urlparse(url)._replace(scheme="ws", path="/_stcore/stream").geturl()
        self.samples, self.timeout = samples, timeout
        self.ws = None
        self.closed = ""  # why the connection ended, once it has
        self.index = 0  # which session of a run (run_sessions sets it), for scripts that differ per session
        self.page = self.page_hash = self.query = ""
        self.pages: dict[str, str] = {}  # url path -> page_script_hash, from the navigation message
        self.elements: dict[tuple, tuple] = {}  # delta path -> (run id that drew it, Element): what the page shows
        self.widgets: dict[str, WidgetState] = {}  # what this tab has set; the frontend sends it with every rerun
        self.exceptions: list[str] = []  # the message of every exception element shown
        self.fragment_runs = self.cache_hits = 0
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
            if k == "slider" and w.type == w.SELECT_SLIDER:  # one element type, two value fields
                k = "select_slider"
            wid = getattr(w, "id", "")
            if wid and k in VALUE_FIELD and (kind is None or k == kind) and (label is None or w.label == label) \
                    and (key is None or wid.endswith("-" + key)):
                return k, wid
        raise LookupError(f"no widget kind={kind} label={label} key={key} on /{self.page}")

    def options(self, wid: str) -> list[str]:
        """A choice widget's options as the frontend sends them back (format_func applied), by widget id."""
        for _, el in self.elements.values():
            k = el.WhichOneof("type")
            if k and getattr(getattr(el, k), "id", "") == wid:
                return list(getattr(el, k).options)
        raise LookupError(f"no widget {wid} on /{self.page}")

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
        # what a browser tells the app about itself (st.context): the lab picks its language from the locale
        context = state.context_info
        context.locale, context.timezone, context.color_scheme = "en-US", "UTC", "light"
        context.url = f"{self.url}/{self.page}" + (f"?{self.query}" if self.query else "")
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
        stale = time.perf_counter() - self.timeout  # fragment reruns that no run answered in time are failures
        self.samples += [Sample(f"fragment /{self.page}", None, 0, "no run answered")
                         for sent in sum(self._fragment_waits.values(), []) if sent < stale]
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
        entry[1], self.cache_hits = self._full_runs, self.cache_hits + 1
        full = ForwardMsg()
        full.CopyFrom(entry[0])
        full.metadata.CopyFrom(msg.metadata)  # the reference carries where this use of it goes (delta path)
        return full

    def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self._run, self._run_exceptions = (msg.metadata.run.script_run_id, tuple(msg.metadata.run.fragment_ids)), 0
            self._max_age = msg.new_session.config.max_cached_message_age or self._max_age
            if not msg.metadata.run.fragment_ids:  # the frontend's current page; st.navigation's message follows
                self.page_hash = msg.new_session.page_script_hash
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
                 name: str | None = None, option: int | None = None):
        """`option`: pick a choice widget's option by position instead of a value (its shown text depends on the
        language and the format_func, which is what the frontend sends)."""
        self.value, self.kind, self.label, self.key, self.option = value, kind, label, key, option
        self.name = name or f"set {label or key or kind}"

    async def run(self, s: Session) -> int:
        kind, wid = s.widget(self.kind, self.label, self.key)
        value = self.value if self.option is None else s.options(wid)[self.option]
        s.set_widget(wid, kind, value)
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


PAGES = {"home": ("", ""), "tour": ("tour", "step=1"), "equivariance": ("equivariance", ""),
         "attention": ("attention", ""), "biases": ("biases", ""), "explain": ("explain", ""),
         "sensitivity": ("sensitivity", ""), "data": ("data", "")}  # every page as a class opens it


def lecture(i: int) -> list:
    """A class following a lecture: the tour's nine questions (Reveal, then Next), then every page with its main
    control changed once (by widget key, so the script reads the same in either language)."""
    steps = [Open("tour", "step=1", name="tour: open")]
    for k in range(1, 10):
        steps += [Click(label="Reveal", name=f"tour {k}: reveal"), Click(label="Next", name=f"tour {k}: next")]
    for page, change in (("equivariance", Set(3, kind="slider", key="eq_dx", name="equivariance: shift")),
                         ("attention", Set(3, kind="slider", key="att-layer", name="attention: layer")),
                         ("biases", Set(kind="selectbox", key="bi-cnn", option=1, name="biases: CNN")),
                         ("explain", Set(kind="selectbox", key="ex-cnn", option=1, name="explain: CNN")),
                         ("sensitivity", Set(20, kind="slider", key="size", name="sensitivity: size")),
                         ("data", Set(kind="select_slider", key="cell", option=2, name="data: cell size"))):
        steps += [Open(*PAGES[page], name=f"{page}: open"), change]
    return steps


SCRIPTS = {  # built-in scripts: a class arriving (home, then the tour), a lecture, the floor app; "page:NAME" opens one
    "pages": lambda i: [Open(""), Open("tour", "step=2")],
    "lecture": lecture,
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
                t, seen = time.perf_counter(), len(s.exceptions)
                try:
                    exceptions = await step.run(s)
                except Exception as e:  # noqa: BLE001 - refused, closed, timed out, widget missing: a failure
                    samples.append(Sample(step.name, None, 0, f"{type(e).__name__}: {e}"[:200]))
                    break
                if getattr(step, "record", True):
                    samples.append(Sample(step.name, time.perf_counter() - t, exceptions, "",
                                          tuple(s.exceptions[seen:])))
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
                     "errors": sorted({s.error for s in mine if s.error})[:3],
                     "exception_messages": sorted({m[:300] for s in mine for m in s.shown})[:3]}
    return out


# -- the server's side, from /proc (psutil is not installed here) --
def usage(pid: int) -> tuple[float, float]:
    """CPU seconds (user + system: the process, its live descendants, its reaped children) and resident MB (the
    process and its live descendants). Processes may come and go while /proc is read."""
    stats = {}
    for p in Path("/proc").glob("[0-9]*"):
        try:
            stats[int(p.name)] = (p / "stat").read_text().rsplit(")", 1)[1].split()  # fields 3... after "(comm)"
        except (OSError, IndexError):
            continue
    tree, grew = {pid} & stats.keys(), True
    while grew:
        new = {c for c, f in stats.items() if int(f[1]) in tree} - tree
        tree, grew = tree | new, bool(new)
    ticks = sum(int(stats[p][11]) + int(stats[p][12]) + (int(stats[p][13]) + int(stats[p][14])) * (p == pid)
                for p in tree)
    return ticks / os.sysconf("SC_CLK_TCK"), sum(int(stats[p][21]) for p in tree) * os.sysconf("SC_PAGE_SIZE") / 2**20


def pid_listening(port: int) -> int | None:
    """The process that listens on a local TCP port: its socket's inode in /proc/net/tcp*, then whose fd it is."""
    inodes = {f"socket:[{f[9]}]" for table in ("/proc/net/tcp", "/proc/net/tcp6")
              for f in map(str.split, Path(table).read_text().splitlines()[1:])
              if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port}  # 0A: LISTEN
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            if os.readlink(fd) in inodes:
                return int(fd.parts[2])
        except OSError:
            continue
    return None


async def measure(url: str, sessions: int, script, pid: int | None = None, stagger: float = 0.0,
                  timeout: float = 120.0, warm: int = 1) -> dict:
    """One load run: the summary per step; with the server's pid, its CPU seconds over the run and its peak
    resident memory (sampled every 0.5 s), the generator's own CPU beside them. First `warm` sessions go through
    the script unmeasured, so that a fresh server's first-run imports are not counted against one app only."""
    if warm:
        await run_sessions(url, warm, script, 0.0, timeout)
    peak, cpu0 = 0.0, usage(pid)[0] if pid else 0.0

    async def watch():
        nonlocal peak
        while True:
            peak = max(peak, usage(pid)[1])
            await asyncio.sleep(0.5)

    watcher = asyncio.create_task(watch()) if pid else None
    t, own = time.perf_counter(), time.process_time()
    samples = await run_sessions(url, sessions, script, stagger, timeout)
    wall, own = time.perf_counter() - t, time.process_time() - own
    server = None
    if watcher:
        watcher.cancel()
        cpu1, rss = usage(pid)
        server = {"pid": pid, "cpu_s": round(cpu1 - cpu0, 2), "peak_rss_mb": round(max(peak, rss), 1)}
    return {"url": url, "sessions": sessions, "stagger_s": stagger, "warm_sessions": warm, "wall_s": round(wall, 2),
            "generator_cpu_s": round(own, 2), "steps": summarize(samples), "server": server}


@contextmanager
def serve(app: str | Path, runner: str = "streamlit"):
    """`streamlit run app` on a free loopback port from the repository root, so .streamlit/config.toml (the lab's
    server settings: no file watcher, headless...) applies; yields (url, pid) once /_stcore/health answers.
    `runner`: the module `python -m` runs with Streamlit's command line (bench.profile_server wraps it)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", runner, "run", str(app), "--server.port", str(port),
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
    if spec.startswith("page:"):  # one page, as a class opens it at once (the per-page table)
        page, query = PAGES[spec.removeprefix("page:")]
        return [Open(page, query)]
    return steps_from_json(json.loads(Path(spec).read_text() if Path(spec).is_file() else spec))


def print_table(runs: list[dict]) -> None:
    print(f"{'app':20} {'step':20} {'n':>4} {'p50 s':>7} {'p95 s':>7} {'max s':>7} {'fail':>5} {'exc':>4} "
          f"{'x floor':>7}")
    for run in runs:
        for name, r in run["steps"].items():
            times = " ".join(f"{r[k]:7.3f}" if r[k] is not None else f"{'-':>7}" for k in ("p50_s", "p95_s", "max_s"))
            print(f"{run['app'][-20:]:20} {name[:20]:20} {r['count']:4d} {times} {r['failures']:5d} "
                  f"{r['exceptions']:4d} {r.get('x_floor_p95', ''):>7}")
        srv = run["server"]
        print(f"{'':20} {run['wall_s']} s wall; " + (f"server {srv['cpu_s']} CPU-s, peak RSS {srv['peak_rss_mb']} MB; "
                                                      if srv else "") + f"generator {run['generator_cpu_s']} CPU-s")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="a running server, e.g. http://127.0.0.1:8501")
    where.add_argument("--serve", metavar="APP", help="start `streamlit run APP` on a free port, measure it, stop it")
    ap.add_argument("--pid", type=int, help="the server's pid with --url (default: whoever listens on its port)")
    ap.add_argument("--sessions", type=int, default=60)
    ap.add_argument("--script", default="pages", help=f"{', '.join(SCRIPTS)}, page:NAME ({', '.join(PAGES)}), a JSON file or a JSON list of steps")
    ap.add_argument("--stagger", type=float, default=0.0, help="seconds between session starts (0: all at once)")
    ap.add_argument("--timeout", type=float, default=120.0, help="longest wait for one step")
    ap.add_argument("--warm", type=int, default=1, help="sessions through the script first, unmeasured")
    ap.add_argument("--floor", action="store_true", help="then measure bench/floor_app.py the same way, on its own")
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args(argv)
    script, runs = load_script(a.script), []

    def one(app: str, url: str, pid: int | None, script) -> dict:
        runs.append({"app": app, **asyncio.run(measure(url, a.sessions, script, pid, a.stagger, a.timeout, a.warm))})
        return runs[-1]

    if a.serve:
        with serve(a.serve) as (url, pid):
            one(a.serve, url, pid, script)
    else:
        one(a.url, a.url, a.pid or pid_listening(urlparse(a.url).port or 80), script)
    if a.floor:  # after the app's server has stopped: the two never share the cores
        with serve(FLOOR_APP.relative_to(ROOT)) as (url, pid):
            floor = one("bench/floor_app.py", url, pid, SCRIPTS["floor"])["steps"]
        for name, r in runs[0]["steps"].items():  # opens against the floor's open, the rest against its change
            ref = floor["open /" if name.startswith("open ") else "set slider"]["p95_s"]
            if r["p95_s"] and ref:
                r["x_floor_p95"] = round(r["p95_s"] / ref, 1)
    result = {"command": "python -m bench.loadgen " + " ".join(sys.argv[1:] if argv is None else argv), "runs": runs}
    a.out.write_text(json.dumps(result, indent=1) + "\n")
    print_table(runs)
    return result


if __name__ == "__main__":
    main()
