"""A class of 100 at the protocol level (issue #32's Performance goals): students join from their "phones", answer a
step while the lecturer's page counts, wait for the next step, and follow the lecturer's reveal and advance.

usage: python -m bench.classroom                      # 100 students -> bench/classroom.json
       python -m bench.classroom --students 20 --idle 10 --out /tmp/class.json   # a trial

One `streamlit run streamlit_app.py` (bench.loadgen.serve) with IBL_CLASSROOM_DB set to a fresh SQLite file in a
temporary folder; the bench creates the class on that same file with core.classroom.ClassStore and keeps the
presenter key. No browser: every student and the lecturer is a bench.loadgen.Session, which speaks Streamlit's
WebSocket protocol (the frontend's fragment timers included, so the lecturer's 1-s count runs as in a browser); a
student's Phone also does what its page's follow component does in a browser: a GET of the poll route every 2 s on
one kept-alive connection, and a trigger and a rerun when the class has moved on. In order:

1. warm-up (unmeasured): a student of another class joins, answers and sees a reveal; a lecturer opens its tour.
2. baseline: the server's CPU seconds over `--baseline` s with nobody connected.
3. the lecturer: /tour?step=1&class=CODE&key=KEY (the resume link: the page reads the key into session state once),
   whose count fragment polls every second. Its count runs are recorded: (when the earliest rerun it answers was
   asked for, when it finished, joined, answered).
4. join: student i opens /join?code=CODE at i * join_window / n s (100 in 10 s): join latency is connect to the
   run's script_finished; a join counts if the page shows step 1's choice buttons and the URL got `student=`.
5. vote: student i clicks choice_1_<STEP_1 choices[i % 3]> at i * vote_window / n s (by hand, for 100: ten 34,
   thousand 33, million 33); a vote counts if the click's rerun shows that button as the student's (primary).
   "An answer shows in the lecturer's count": the k-th answer sent against the first time the lecturer's page
   showed at least k answered (sorted against sorted: the count says how many, not whose); a bound per vote:
   from its click to the end of the first lecturer count run asked for after the click's rerun had finished (that
   run's database read certainly includes the vote). A thread of the bench also polls store.tally every 0.1 s:
   when each answer reached the database. Then the final tally against the one sent.
6. idle: the lecturer's page closed, the students' pages wait for the next step for `--idle` s: the server's CPU
   seconds (less the baseline's rate), the polls made (GETs of the route), CPU per poll, each poll's time, and the
   phones' script runs meanwhile (none expected).
7. reveal step 1 (store.reveal), then advance to step 2 (store.advance): the time until every student's page has
   rerun to show it (the takeaway and disabled buttons; step 2's buttons).

The machine's load average is recorded beside the figures: on a machine whose cores are busy with other work the
wall-clock times are upper bounds, while CPU seconds move less.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench import loadgen
from streamlit.components.v2.bidi_component.main import _make_trigger_id
from streamlit.proto.WidgetStates_pb2 import WidgetState

from bench.loadgen import FRAGMENT_DONE, Sample, Session, pct, summarize, usage
from core import tour
from core.classroom import ClassStore
from ui.classroom import FOLLOW_NAME
from ui.warmup import NAME as WARM_UP_THREAD

OUT = Path(__file__).with_name("classroom.json")
APP = "streamlit_app.py"
STEP, NEXT = 1, 2  # the step the room answers, and the one the lecturer moves to
CHOICES = tour.STEPS[STEP - 1].choices
GOALS = {"join_window_s": 10.0, "visible_p95_s": 1.5, "idle_cpu_share_of_one_core": 0.10}
# English, as the load generator's sessions ask for (context_info locale en-US)
COUNT = re.compile(r"\*\*(\d+)\*\* joined(?: · \*\*(\d+)\*\* answered)?")
TAKEAWAY = "**Takeaway**:"  # the reveal's takeaway line, as ui.i18n.labelled writes it (the colon after the bold)


T0 = time.perf_counter()


def log(*what) -> None:
    print(f"[{time.perf_counter() - T0:7.1f} s]", *what, file=sys.stderr, flush=True)


def choice_of(i: int) -> str:
    return CHOICES[i % len(CHOICES)]


def expected_tally(students) -> dict[str, int]:
    return {c: sum(choice_of(i) == c for i in students) for c in CHOICES}


def button(s: Session, key: str):
    """The st.button element whose widget id ends in -key, or None."""
    for _, el in s.elements.values():
        if el.WhichOneof("type") == "button" and el.button.id.endswith("-" + key):
            return el.button
    return None


def stats(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "p50_s": None, "p95_s": None, "max_s": None}
    return {"n": len(values), "p50_s": round(pct(values, 50), 3), "p95_s": round(pct(values, 95), 3),
            "max_s": round(max(values), 3)}


class Phone(Session):
    """A student's phone: its WebSocket, and what the page's follow component does in a browser (ui/classroom.py,
    FOLLOW): every data.every s a GET of data.path on one kept-alive connection; when the moment it answers is not
    data.seen, the component's trigger and a full rerun (the component's setTriggerValue)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.follow: dict | None = None  # the component's data, as the page last drew it
        self.trigger = ""  # the component's trigger widget id
        self.http_polls: list[float] = []  # each GET's time, sent to answered
        self.http_failures = self.moves = 0
        self._poller: asyncio.Task | None = None
        self._http = None
        self._held_until = 0.0

    def _handle(self, msg) -> None:
        super()._handle(msg)
        if msg.WhichOneof("type") == "delta" and msg.delta.WhichOneof("type") == "new_element":
            el = msg.delta.new_element
            if el.WhichOneof("type") == "bidi_component" and el.bidi_component.component_name == FOLLOW_NAME:
                self.follow = json.loads(el.bidi_component.json)
                self._held_until = 0.0  # the component drawn anew: its script starts afresh
                self.trigger = _make_trigger_id(el.bidi_component.id, "events")
                if self._poller is None:
                    self._poller = asyncio.get_running_loop().create_task(self._poll())

    async def _get(self, path: str) -> dict:
        host, port = self.url.split("://", 1)[1].split(":")
        if self._http is None:
            self._http = await asyncio.open_connection(host, int(port))
        reader, writer = self._http
        writer.write(f"GET /{path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        return json.loads(await reader.readexactly(int(re.search(rb"(?i)content-length: *(\d+)", head)[1])))

    async def _poll(self) -> None:
        while not self.closed:  # setInterval: the next tick whether or not the page has rerun yet
            await asyncio.sleep(self.follow["every"])
            if self.closed or self.ws is None:
                return
            t = time.perf_counter()
            try:
                now = (await asyncio.wait_for(self._get(self.follow["path"]), self.timeout))["now"]
            except Exception:  # noqa: BLE001 - the connection went or timed out: a failed poll, try anew
                self.http_failures += 1
                if self._http:
                    self._http[1].close()
                self._http = None
                continue
            self.http_polls.append(time.perf_counter() - t)
            if now != self.follow["seen"] and time.perf_counter() >= self._held_until:  # one rerun per change
                self._held_until = time.perf_counter() + self.follow["hold"]
                self.moves += 1
                state = WidgetState(id=self.trigger, json_trigger_value=json.dumps([{"event": "moved",
                                                                                      "value": now}]))
                self.widgets[self.trigger] = state
                asyncio.get_running_loop().create_task(self._moved())
                await asyncio.sleep(0)  # the rerun message is built and sent with the trigger...
                self.widgets.pop(self.trigger, None)  # ...which, like a click's, goes with one rerun only

    async def _moved(self) -> None:
        try:
            await self.rerun()
        except Exception:  # noqa: BLE001 - a later rerun took its place, or the phone closed: its state says
            pass

    async def close(self) -> None:
        if self._poller:
            self._poller.cancel()
        if self._http:
            self._http[1].close()
        await super().close()


class Lecturer(Session):
    """The lecturer's tour page; records every run of its count fragment."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.polls: list[tuple] = []  # (earliest rerun request it answers, finished, joined, answered)

    def counts(self) -> tuple[int, int | None] | None:
        for body in self.texts():
            if m := COUNT.search(body):
                return int(m[1]), None if m[2] is None else int(m[2])
        return None

    def _finished(self, status: int) -> None:
        if status == FRAGMENT_DONE and (c := self.counts()):
            sent = [t for fid in self._run[1] for t in self._fragment_waits.get(fid, [])]
            self.polls.append((min(sent) if sent else None, time.perf_counter(), *c))
        super()._finished(status)


class Observer(threading.Thread):
    """The database's own view: store.tally(code, STEP) every `every` s, (time, answers) at each change."""

    def __init__(self, db: str, code: str, every: float = 0.1):
        super().__init__(daemon=True)
        self.store, self.code, self.every = ClassStore(db), code, every
        self.seen: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            n = sum(self.store.tally(self.code, STEP).values())
            if not self.seen or n != self.seen[-1][1]:
                self.seen.append((time.perf_counter(), n))
            self.stop.wait(self.every)
        self.store.close()


def reached(observations, k: int) -> float | None:
    """The first time a count of at least k was seen."""
    return next((t for t, n in observations if n is not None and n >= k), None)


async def at(moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - time.perf_counter()))


async def warm_up(url: str, store: ClassStore, timeout: float) -> None:
    """Another class: one student joins, answers and sees the reveal, one lecturer opens its tour."""
    code, key = store.create([s.choices for s in tour.STEPS])
    s, lect = Phone(url, [], timeout), Lecturer(url, [], timeout)
    try:
        await s.open("join", f"code={code}")
        await loadgen.Click(key=f"choice_{STEP}_{choice_of(0)}").run(s)
        await lect.open("tour", f"step={STEP}&class={code}&key={key}")
        store.reveal(code, key, STEP)
        await s.wait_for(lambda s: TAKEAWAY in s.text())
    finally:
        await s.close()
        await lect.close()


async def cpu_window(pid: int, seconds: float) -> tuple[float, float]:
    """(server CPU seconds over the window, wall seconds)."""
    c0, t0 = usage(pid)[0], time.perf_counter()
    await asyncio.sleep(seconds)
    return usage(pid)[0] - c0, time.perf_counter() - t0


def warm_up_tasks(pid: int) -> list[Path]:
    """The server's threads named as its warm-up in /proc (ui/warmup.py names itself; the native threads it starts,
    torch's, take its name and outlive it), oldest (lowest id, the warm-up itself) first."""
    named = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            if (task / "comm").read_text().strip() == WARM_UP_THREAD:
                named.append(task)
        except OSError:  # a thread that ended while we looked
            continue
    return sorted(named, key=lambda task: int(task.name))


def warm_up_cpu_s(pid: int) -> float:
    """CPU seconds of the server's threads named as its warm-up (warm_up_tasks)."""
    ticks = 0
    for task in warm_up_tasks(pid):
        try:
            f = (task / "stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(f[11]) + int(f[12])
        except OSError:
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


async def quiet(pid: int, share: float = 0.1, window: float = 3.0, limit: float = 180.0) -> float:
    """Wait until the server's background warm-up has ended (the health check answers before it has, and it waits
    2 s before it begins: ui/warmup.py) and the server spends under `share` of a core over `window` s, at most
    `limit` s; the seconds waited."""
    t = time.perf_counter()
    while time.perf_counter() - t < limit:
        warm = warm_up_cpu_s(pid)
        cpu, wall = await cpu_window(pid, window)
        if cpu / wall < share and 0 < warm == warm_up_cpu_s(pid):  # it has begun, and ended
            break
    return round(time.perf_counter() - t, 1)


async def run(url: str, pid: int, db: str, students: int = 100, join_window: float = 10.0,
              vote_window: float = 10.0, idle: float = 30.0, baseline: float = 10.0, timeout: float = 120.0,
              profile: Path | None = None, settle: float = 180.0) -> dict:
    """The whole class against a running server (pid: for its CPU); `db` is the server's IBL_CLASSROOM_DB. Before
    the warm-up class and after it, waits at most `settle` s for the server to be quiet (0: not at all)."""
    store = ClassStore(db)
    out: dict = {"students": students, "join_window_s": join_window, "vote_window_s": vote_window,
                 "load_average_start": [round(x, 2) for x in os.getloadavg()]}
    out["warm_up_quiet_after_s"] = await quiet(pid, limit=settle) if settle else None
    log(f"server quiet after {out['warm_up_quiet_after_s']} s; warm-up class")
    await warm_up(url, store, timeout)
    out["quiet_after_s"] = await quiet(pid, limit=settle) if settle else None
    if baseline:
        cpu, wall = await cpu_window(pid, baseline)
        out["baseline"] = {"seconds": round(wall, 2), "server_cpu_s": round(cpu, 3),
                           "share_of_one_core": round(cpu / wall, 4)}
    log(f"quiet again after {out['quiet_after_s']} s; baseline {out.get('baseline')}")
    code, key = store.create([s.choices for s in tour.STEPS])
    samples: list[Sample] = []
    sessions = [Phone(url, samples, timeout) for _ in range(students)]
    for i, s in enumerate(sessions):
        s.index = i
    lect = Lecturer(url, samples, timeout)
    own0 = time.process_time()
    try:
        await lect.open("tour", f"step={STEP}&class={code}&key={key}")
        if lect.counts() is None:
            raise RuntimeError(f"the lecturer's page shows no class count: {lect.text()[:500]}")
        out["lecturer_key_left_url"] = "key=" not in lect.query

        # -- join --
        joined: list[int] = []
        errors: dict[str, int] = {}

        async def join(i: int, s: Session, start: float) -> None:
            await at(start + i * join_window / students)
            t = time.perf_counter()
            try:
                exceptions = await s.open("join", f"code={code}")
                if button(s, f"choice_{STEP}_{choice_of(i)}") is None or "student=" not in s.query:
                    raise LookupError("no choice buttons or no student token")
            except Exception as e:  # noqa: BLE001 - any failure to join is counted as one
                samples.append(Sample("join", None, 0, f"{type(e).__name__}: {e}"[:200]))
                errors[f"{type(e).__name__}: {e}"[:120]] = errors.get(f"{type(e).__name__}: {e}"[:120], 0) + 1
                return
            samples.append(Sample("join", time.perf_counter() - t, exceptions))
            joined.append(i)

        start = time.perf_counter()
        c0 = usage(pid)[0]
        await asyncio.gather(*(join(i, s, start) for i, s in enumerate(sessions)))
        join_cpu, join_wall = usage(pid)[0] - c0, time.perf_counter() - start
        times = [x.seconds for x in samples if x.step == "join" and x.seconds is not None]
        state = store.state(code)
        log(f"joined {len(joined)}/{students} in {join_wall:.1f} s; the store counts {state['students']}")
        try:
            await lect.wait_for(lambda s: (s.counts() or (0,))[0] >= len(joined), timeout)
        except (asyncio.TimeoutError, ConnectionError) as e:
            out["lecturer_join_wait_error"] = f"{type(e).__name__}: {e}; shows {lect.counts()}, " \
                                              f"{len(lect.polls)} count runs, closed: {lect.closed!r}"
            log(out["lecturer_join_wait_error"])
        out["join"] = {**stats(times), "failures": students - len(joined), "errors": errors,
                       "all_joined_after_s": round(join_wall, 2), "server_cpu_s": round(join_cpu, 2),
                       "store_students": state["students"],
                       "lecturer_saw_all_after_s": round(time.perf_counter() - start, 2)}

        # -- vote --
        obs = Observer(db, code)
        obs.start()
        votes: dict[int, tuple[float, float]] = {}  # i -> (click sent, its rerun finished)
        vote_errors: dict[str, int] = {}

        async def vote(i: int, start: float) -> None:
            s = sessions[i]
            await at(start + i * vote_window / students)
            key_ = f"choice_{STEP}_{choice_of(i)}"
            try:
                kind, wid = s.widget(kind="button", key=key_)
                s.set_widget(wid, kind, True)
                sent = time.perf_counter()
                await s.rerun()
                done = time.perf_counter()
                if (b := button(s, key_)) is None or b.type != "primary":
                    raise LookupError("the answer is not shown as the student's")
            except Exception as e:  # noqa: BLE001
                vote_errors[f"{type(e).__name__}: {e}"[:120]] = vote_errors.get(f"{type(e).__name__}: {e}"[:120],
                                                                                0) + 1
                return
            votes[i] = (sent, done)

        start = time.perf_counter()
        c0 = usage(pid)[0]
        await asyncio.gather(*(vote(i, start) for i in joined))
        vote_cpu = usage(pid)[0] - c0
        try:
            # a count run recorded (its script_finished read), not only its text drawn
            await lect.wait_for(lambda s: any(p[3] is not None and p[3] >= len(votes) for p in s.polls), timeout)
            last = max((d for _, d in votes.values()), default=0.0)  # and one asked for after every vote (the bound)
            await lect.wait_for(lambda s: any(p[0] is not None and p[0] >= last for p in s.polls), timeout)
        except (asyncio.TimeoutError, ConnectionError) as e:
            out["lecturer_wait_error"] = f"{type(e).__name__}: {e}; shows {lect.counts()}, " \
                                         f"{len(lect.polls)} count runs, closed: {lect.closed!r}"
            log(out["lecturer_wait_error"])
        log(f"voted {len(votes)}; the lecturer shows {lect.counts()}")
        deadline = time.monotonic() + 5
        while obs.seen[-1][1] < len(votes) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        obs.stop.set()
        obs.join()
        sent_sorted = sorted(v[0] for v in votes.values())
        shown = [(done, answered) for _, done, _, answered in lect.polls]
        in_count = [r - s for k, s in enumerate(sent_sorted, 1) if (r := reached(shown, k)) is not None]
        in_db = [r - s for k, s in enumerate(sent_sorted, 1) if (r := reached(obs.seen, k)) is not None]
        bound = []
        for sent, done in votes.values():
            after = [fin for asked, fin, _, _ in lect.polls if asked is not None and asked >= done]
            if after:
                bound.append(min(after) - sent)
        tally = store.tally(code, STEP)
        want = expected_tally(votes)
        poll_times = [fin - asked for asked, fin, _, _ in lect.polls if asked is not None]
        out["vote"] = {
            "click_rerun": {**stats([d - s for s, d in votes.values()]), "failures": len(joined) - len(votes),
                            "errors": vote_errors},
            "in_lecturer_count": {**stats(in_count), "never": len(votes) - len(in_count)},
            "in_lecturer_count_bound": {**stats(bound), "never": len(votes) - len(bound)},
            "in_database": {**stats(in_db), "never": len(votes) - len(in_db)},
            "lecturer_count_run": stats(poll_times),
            "server_cpu_s": round(vote_cpu, 2),
            "sent": want, "tally": tally, "lost": sum(want.values()) - sum(tally.values()),
            "tally_equals_sent": tally == want,
            "lecturer_final_count": (lect.counts() or (None, None))[1]}
        await lect.close()

        # -- idle: the phones wait for the next step --
        if idle:
            await asyncio.sleep(2.5)  # the lecturer's last run and the votes' reruns are done
            runs0 = sum(s.fragment_runs for s in sessions)
            http0 = [len(s.http_polls) for s in sessions]
            fail0 = sum(s.http_failures for s in sessions)
            spy = None
            if profile:  # py-spy samples the server's threads (and its GIL holder) over the window
                spy = await asyncio.create_subprocess_exec(
                    "py-spy", "record", "-p", str(pid), "-d", str(int(idle)), "-r", "200", "-f", "raw", "-o",
                    str(profile), "--nonblocking", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            cpu, wall = await cpu_window(pid, idle)
            if spy:
                await spy.wait()
            log(f"idle: {cpu:.2f} CPU-s in {wall:.1f} s")
            polls = [t for s, k in zip(sessions, http0) for t in s.http_polls[k:]]
            runs = sum(s.fragment_runs for s in sessions) - runs0  # script runs while waiting: none expected
            base = out.get("baseline", {}).get("share_of_one_core", 0.0)
            out["idle"] = {"seconds": round(wall, 2), "server_cpu_s": round(cpu, 3),
                           "share_of_one_core": round(cpu / wall, 4),
                           "share_less_baseline": round(cpu / wall - base, 4),
                           "polls": len(polls), "polls_per_s": round(len(polls) / wall, 1),
                           "cpu_ms_per_poll": round(1000 * cpu / len(polls), 2) if polls else None,
                           "cpu_ms_per_poll_less_baseline":
                               round(1000 * (cpu - base * wall) / len(polls), 2) if polls else None,
                           "poll": stats(polls), "script_runs": runs,
                           "poll_failures": sum(s.http_failures for s in sessions) - fail0}

        # -- the lecturer reveals, then moves on --
        async def follow(what: str, change, predicate) -> dict:
            c0 = usage(pid)[0]
            t0 = time.perf_counter()
            change()
            changed = time.perf_counter() - t0

            async def one(s: Session) -> float | None:
                try:
                    await s.wait_for(predicate, timeout)
                    return time.perf_counter() - t0
                except Exception:  # noqa: BLE001 - timed out or closed: never followed
                    return None

            took = await asyncio.gather(*(one(sessions[i]) for i in joined))
            ok = [x for x in took if x is not None]
            stuck = [sessions[i] for i, x in zip(joined, took) if x is None]
            return {**stats(ok), "never": len(took) - len(ok), "store_call_s": round(changed, 4),
                    "never_example": None if not stuck else {  # what a phone that did not follow shows
                        "closed": stuck[0].closed, "exceptions": stuck[0].exceptions[:2],
                        "texts": [x[:120] for x in stuck[0].texts()][:8],
                        "buttons": [(b.id[-30:], b.disabled) for _, el in stuck[0].elements.values()
                                    if el.WhichOneof("type") == "button" for b in [el.button]]},
                    "server_cpu_s": round(usage(pid)[0] - c0, 2), "what": what}

        def revealed(s: Session) -> bool:
            b = button(s, f"choice_{STEP}_{CHOICES[0]}")
            return b is not None and b.disabled and TAKEAWAY in s.text()

        log("reveal")
        out["reveal"] = await follow(f"store.reveal(step {STEP}) to the takeaway and disabled buttons on the phone",
                                     lambda: store.reveal(code, key, STEP), revealed)
        log(f"reveal followed: {out['reveal']}")
        nxt = tour.STEPS[NEXT - 1].choices[0]
        out["advance"] = await follow(f"store.advance(step {NEXT}) to step {NEXT}'s buttons on the phone",
                                      lambda: store.advance(code, key, NEXT),
                                      lambda s: button(s, f"choice_{NEXT}_{nxt}") is not None)
    finally:
        for s in sessions:
            await s.close()
        if not lect.closed:
            await lect.close()
        store.close()
    out["generator_cpu_s"] = round(time.process_time() - own0, 2)
    out["exceptions_shown"] = sum(len(s.exceptions) for s in sessions) + len(lect.exceptions)
    out["exception_messages"] = sorted({m[:200] for s in [*sessions, lect] for m in s.exceptions})[:3]
    out["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    out["goals"] = goals(out)
    return out


def goals(out: dict) -> dict:
    j, v, i = out["join"], out["vote"], out.get("idle")
    return {
        "join": {"goal": f"{out['students']} join within {GOALS['join_window_s']:g} s, none fails",
                 # arrivals are spread over the window (the last at 9.9 s of 10): allow the last join's own time
                 "ok": j["failures"] == 0 and j["all_joined_after_s"] <= out["join_window_s"] + 0.5
                 and out["join_window_s"] <= GOALS["join_window_s"]},
        "visible": {"goal": f"an answer in the lecturer's count within {GOALS['visible_p95_s']} s p95",
                    "value": v["in_lecturer_count"]["p95_s"],
                    "ok": v["in_lecturer_count"]["p95_s"] is not None
                    and v["in_lecturer_count"]["p95_s"] <= GOALS["visible_p95_s"]
                    and v["in_lecturer_count"]["never"] == 0},
        "no_answer_lost": {"goal": "final tally equals what was sent", "ok": v["tally_equals_sent"]
                           and v["click_rerun"]["failures"] == 0},
        "idle_cpu": {"goal": f"waiting phones cost at most {GOALS['idle_cpu_share_of_one_core']:.0%} of one core",
                     "value": i and i["share_of_one_core"],
                     "ok": None if not i else i["share_of_one_core"] <= GOALS["idle_cpu_share_of_one_core"]},
    }


def print_report(r: dict) -> None:
    row = lambda name, d: print(f"{name:44} {d['n']:5d} " + " ".join(  # noqa: E731
        f"{d[k]:7.3f}" if d[k] is not None else f"{'-':>7}" for k in ("p50_s", "p95_s", "max_s")))
    print(f"{'':44} {'n':>5} {'p50 s':>7} {'p95 s':>7} {'max s':>7}")
    row("join (connect to page drawn)", r["join"])
    row("vote: click to its rerun finished", r["vote"]["click_rerun"])
    row("vote: k-th sent to lecturer's count >= k", r["vote"]["in_lecturer_count"])
    row("vote: bound per vote (lecturer)", r["vote"]["in_lecturer_count_bound"])
    row("vote: k-th sent to database count >= k", r["vote"]["in_database"])
    row("lecturer's count run (asked to drawn)", r["vote"]["lecturer_count_run"])
    if "idle" in r:
        row("idle: a phone's poll (asked to answered)", r["idle"]["poll"])
    row("reveal: store.reveal to every phone", r["reveal"])
    row("advance: store.advance to every phone", r["advance"])
    print(f"joined {r['join']['n']}/{r['students']}, all after {r['join']['all_joined_after_s']} s; "
          f"tally {r['vote']['tally']} sent {r['vote']['sent']} lost {r['vote']['lost']}")
    if "idle" in r:
        i = r["idle"]
        print(f"idle {i['seconds']} s: server {i['server_cpu_s']} CPU-s = {i['share_of_one_core']:.1%} of one core "
              f"({i['share_less_baseline']:.1%} above the empty server's), {i['polls']} polls, "
              f"{i['cpu_ms_per_poll']} ms CPU a poll")
    print(f"load average {r['load_average_start']} -> {r['load_average_end']}; exceptions shown "
          f"{r['exceptions_shown']}")
    for name, g in r["goals"].items():
        print(f"goal {name}: {g['goal']}: {'ok' if g['ok'] else 'MISSED' if g['ok'] is False else 'not measured'}")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--students", type=int, default=100)
    ap.add_argument("--join-window", type=float, default=10.0, help="students arrive evenly over this many s")
    ap.add_argument("--vote-window", type=float, default=10.0, help="answers are sent evenly over this many s")
    ap.add_argument("--idle", type=float, default=30.0, help="seconds of waiting phones to measure (0: skip)")
    ap.add_argument("--baseline", type=float, default=10.0, help="seconds of an empty server to measure (0: skip)")
    ap.add_argument("--timeout", type=float, default=120.0, help="longest wait for one state")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--no-post-script-gc", action="store_true", help="serve with runner.postScriptGC off: Streamlit's "
                    "full garbage collection after every run, every phone's poll included")
    ap.add_argument("--py-spy", type=Path, metavar="FILE", help="py-spy record the server over the idle window into "
                    "FILE (collapsed stacks; `pip install py-spy`)")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ibl-class-") as tmp:
        db = str(Path(tmp) / "class.sqlite3")
        os.environ["IBL_CLASSROOM_DB"] = db  # the server inherits it
        if a.no_post_script_gc:
            os.environ["STREAMLIT_RUNNER_POST_SCRIPT_GC"] = "false"
        with loadgen.serve(APP) as (url, pid):
            r = asyncio.run(run(url, pid, db, a.students, a.join_window, a.vote_window, a.idle, a.baseline,
                                a.timeout, a.py_spy))
    r = {"command": "python -m bench.classroom " + " ".join(sys.argv[1:] if argv is None else argv),
         "post_script_gc": not a.no_post_script_gc, **r}
    a.out.write_text(json.dumps(r, indent=1) + "\n")
    print_report(r)
    return r


if __name__ == "__main__":
    main()
