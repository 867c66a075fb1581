"""The tour as a classroom: the lecturer's class (join code, QR code, live counts, the room's answers beside the lab's)
and a student's phone page. The rules and the database are core.classroom's; this module caches, draws and lays out.

Who may do what rests on the presenter key alone: it lives in the lecturer's session state, never in a URL that
stays in the address bar, never on the projected page; a student's session never reads it.
"""
from __future__ import annotations

import io
import os
import time

import altair as alt
import pandas as pd
import segno
import streamlit as st
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from core import classroom, tour
from core.classroom import ClassError, ClassStore
from ui import present
from ui.i18n import labelled, t, words

# ui.tour_views (the lab's measurements: torch, the models) is imported inside the two functions that show the lab's
# answers: the phones' state poll may import this module on the server's event loop (streamlit_app.py, after a
# restart), where seconds of importing torch would hold every connection

LECTURER = "classroom_lecturer"  # session state: {"code", "key"} of the class this session presents
RESUME_SHOWN = "classroom_resume_shown"  # session state: the code whose resume link has been offered
STUDENT = "student"  # query parameter: a student's token, so that a reload comes back as the same student
CODE = "code"  # query parameter of the join page
CLASS = "class"  # query parameter of the lecturer's tour: the class it presents (public, like the code)
KEY = "key"  # query parameter of the resume link only: read once, then removed from the address bar
PUBLIC_URL = "IBL_PUBLIC_URL"  # the address phones reach the server at, where the lecturer's browser uses another
# Polling: a phone asks STATE_PATH (a plain HTTP route, no script run) every STUDENT_POLL seconds and reruns its page
# only when the lecturer moved on or revealed, so it follows at most STUDENT_POLL + STATE_TTL s late, plus its
# rerun; every phone on one server process shares one database read per STATE_TTL. The lecturer's count reruns a
# fragment every LECTURER_POLL seconds (one page: its cost is small).
STUDENT_POLL, LECTURER_POLL, STATE_TTL = 2.0, 1.0, 0.5
RERUN_HOLD = 30.0  # s: a phone whose rerun for a change has not drawn it by then asks for another
STATE_PATH = "/_classroom/state"  # GET ?code=CODE -> {"now": moment(...)}; streamlit_app.py serves it
# per browser session and minute: enough for a student who changes their mind, not for a script
JOINS_PER_MINUTE, ANSWERS_PER_MINUTE = 5, 30


def store() -> ClassStore:
    """The store of the database IBL_CLASSROOM_DB names (read at each call, so a test can point it elsewhere)."""
    return _store(classroom.default_url())


@st.cache_resource(show_spinner=False)
def _store(url: str) -> ClassStore:
    """One store per database and server process: its connection pool is shared by every session."""
    return ClassStore(url)


def current_state(code: str) -> dict | None:
    """store().state(code), read now; None where the class is over or unknown. A phone's page reads it at every run
    (runs are few: a join, a click, a change its poll saw), so a run that a change triggered shows the change."""
    try:
        return store().state(code)
    except ClassError:
        return None


@st.cache_data(ttl=STATE_TTL, show_spinner=False, max_entries=1_000)
def class_state(code: str) -> dict | None:
    """current_state(code), shared by every session for STATE_TTL."""
    return current_state(code)


def moment(state: dict | None) -> str:
    """What a phone shows of the class, in one word: "3" (step 3, taking answers), "3r" (step 3 revealed), "over"."""
    if state is None:
        return "over"
    return f"{state['step']}" + ("r" if state["step"] in state["revealed"] else "")


_moments: dict[str, tuple[float, str]] = {}  # code -> (when read, its moment): the phones' poll, this process
MAX_MOMENTS = 1_000  # codes remembered at once (more than the classes a database holds)


def _read_moment(code: str) -> str:
    try:
        return moment(store().state(code))
    except ClassError:
        return "over"


async def state_endpoint(request: Request) -> JSONResponse:
    """GET STATE_PATH?code=CODE: the class's moment, for the phones' poll. Public like the code itself (the step and
    whether it is revealed). On the event loop, without a session or a script run: a hall of phones shares one
    database read (in a worker thread) per STATE_TTL."""
    try:
        code = classroom.normal_code(request.query_params.get(CODE, ""))
    except ClassError:
        return JSONResponse({"now": "over"}, headers={"Cache-Control": "no-store"})
    read = _moments.get(code)
    if read is None or time.monotonic() - read[0] >= STATE_TTL:
        if len(_moments) >= MAX_MOMENTS:
            _moments.clear()
        read = _moments[code] = (time.monotonic(), await run_in_threadpool(_read_moment, code))
    return JSONResponse({"now": read[1]}, headers={"Cache-Control": "no-store"})


# The phone's side of the poll: compare the route's moment with the one the page shows; on a difference, a trigger
# reruns the page (a full run, like a click). No fragment timer: a rerun that a timer's fragment rerun overtakes can
# lose its last messages in Streamlit 1.67 when the server is busy (bench/README.md, "Classroom").
FOLLOW_NAME = "ibl.classroom_follow"
FOLLOW = st.components.v2.component(FOLLOW_NAME, js="""
export default function ({ data, setTriggerValue }) {
  let asking = false, heldUntil = 0;
  const timer = setInterval(async () => {
    if (asking) return;
    asking = true;
    try {
      const reply = await fetch(new URL(data.path, document.baseURI), { cache: "no-store" });
      const now = reply.ok ? (await reply.json()).now : null;
      // one rerun per change: a second would restart the first on a busy server, which may take longer than a poll
      if (now !== null && now !== data.seen && Date.now() >= heldUntil) {
        heldUntil = Date.now() + data.hold * 1000;
        setTriggerValue("moved", now);
      }
    } catch (e) {
      // offline for a moment: ask again at the next tick
    } finally {
      asking = false;
    }
  }, data.every * 1000);
  return () => clearInterval(timer);
}
""")


def allowed(what: str, per_minute: int) -> bool:
    """Whether this browser session may `what` once more this minute (and count it)."""
    now = time.monotonic()
    times = [s for s in st.session_state.get(f"classroom_{what}", []) if now - s < 60]
    if len(times) >= per_minute:
        return False
    st.session_state[f"classroom_{what}"] = times + [now]
    return True


def join_url(code: str) -> str:
    """The join page's address for phones: IBL_PUBLIC_URL, else the address the lecturer's browser opened."""
    base = os.environ.get(PUBLIC_URL, "").rstrip("/")
    if not base:
        url = st.context.url or "http://localhost:8501"
        scheme, _, rest = url.partition("://")
        base = f"{scheme}://{rest.split('/', 1)[0]}"
    return f"{base}/join?{CODE}={code}"


@st.cache_data(show_spinner=False, max_entries=64)
def qr_png(url: str) -> bytes:
    """The join link as a QR code: medium error correction, 4-module quiet zone, big modules for the back row."""
    buf = io.BytesIO()
    segno.make(url, error="m").save(buf, kind="png", scale=12, border=4)
    return buf.getvalue()


CODE_CSS = """<style>.ibl-code { font: 700 4.2rem/1.1 ui-monospace, monospace; letter-spacing: 0.12em; }</style>"""


# --- the lecturer ----------------------------------------------------------------------------------------------------
def lecturer() -> dict | None:
    """The class this session presents: {"code", "key"}, or None. A resume link (?class=…&key=…) is read here once
    and the key taken out of the address bar at once."""
    key = st.query_params.get(KEY)
    if key is not None:
        code = st.query_params.get(CLASS, "")
        del st.query_params[KEY]
        try:
            if store().is_presenter(code, key):
                st.session_state[LECTURER] = {"code": classroom.normal_code(code), "key": key}
                st.session_state[RESUME_SHOWN] = code
            else:
                st.error(t("classroom.resume_refused"))
        except ClassError as e:
            st.error(words(e))
    return st.session_state.get(LECTURER)


def start() -> None:
    """on_click of "Start a class": a new class at the lecturer's current step."""
    try:
        code, key = store().create([s.choices for s in tour.STEPS])
    except ClassError as e:
        st.session_state["classroom_error"] = words(e)
        return
    st.session_state[LECTURER] = {"code": code, "key": key}
    st.session_state["classroom_join_open"] = True


def end() -> None:
    """on_click of "End the class"."""
    lect = st.session_state.pop(LECTURER, None)
    if lect:
        try:
            store().end(lect["code"], lect["key"])
        except ClassError:
            pass  # already over: the lecturer wanted it over
    st.query_params.pop(CLASS, None)


def follow(lect: dict, n: int, revealed: bool) -> str | None:
    """Bring the class to what the lecturer's page shows: step n, revealed or not. The worded refusal, if any."""
    try:
        state = store().state(lect["code"])
        if state["step"] != n:
            store().advance(lect["code"], lect["key"], n)
        if revealed and tour.STEPS[n - 1].choices and n not in state["revealed"]:
            store().reveal(lect["code"], lect["key"], n)
    except ClassError as e:
        st.session_state.pop(LECTURER, None)
        return words(e)
    st.query_params[CLASS] = lect["code"]
    return None


def lecturer_panel(lect: dict) -> None:
    """The join panel (a big QR code, the code and the link) while it is open, else one line with the counts."""
    code = lect["code"]
    url = join_url(code)
    if st.session_state.get("classroom_join_open"):
        st.html(CODE_CSS)
        qr, words_ = st.columns([2, 3], vertical_alignment="center")
        qr.image(qr_png(url), width=300 if present.is_on() else 260)
        words_.markdown(t("classroom.join_here", url=url.split("?")[0]))
        words_.markdown(f"<div class='ibl-code'>{code}</div>", unsafe_allow_html=True)
        _counts(words_, code)
        words_.button(t("classroom.hide_join"), on_click=lambda: st.session_state.update(classroom_join_open=False))
    else:
        line, button = st.columns([6, 2], vertical_alignment="center")
        with line:
            _counts(st.container(), code)
        button.button(t("classroom.show_join"), on_click=lambda: st.session_state.update(classroom_join_open=True),
                      width="stretch")


def _counts(where, code: str) -> None:
    """Students joined and answers to this step, live (the lecturer's page alone polls this often)."""
    @st.fragment(run_every=LECTURER_POLL)
    def counts():
        try:  # not the shared cache: the lecturer sees a reveal or an answer as soon as the database has it
            state = store().state(code)
        except ClassError:
            st.warning(t("classroom.ended"))
            return
        n = state["step"]
        step = tour.STEPS[n - 1]
        line = t("classroom.counts", code=code, students=state["students"])
        if step.choices:
            tally = store().tally(code, n)
            if n in state["revealed"]:  # the room against the lab, at the top of the projected screen
                line += f" · **{room_reading(step, tally, lab_answers([n]).get(n))}**"
            else:
                line += " · " + t("classroom.answered", answered=sum(tally.values()))
        st.markdown(line)

    with where:
        counts()


def resume_link(lect: dict) -> None:
    """The presenter link, offered once per class in the sidebar (folded: it never shows on the projector)."""
    if st.session_state.get(RESUME_SHOWN) == lect["code"]:
        return
    with st.sidebar.expander(t("classroom.resume_title")):
        st.caption(t("classroom.resume_help"))
        st.code(f"{join_url(lect['code']).split('/join?')[0]}/tour?{CLASS}={lect['code']}&{KEY}={lect['key']}",
                language=None)
        st.button(t("classroom.resume_done"), on_click=lambda: st.session_state.update(
            {RESUME_SHOWN: lect["code"]}))


# --- the room's answers ------------------------------------------------------------------------------------------------
def room_reading(step: tour.Step, tally: dict[str, int], correct: str | None) -> str:
    """'27 of 41 expected the CNN; the data says the ViT.' (the most chosen answer against the lab's)."""
    answered = sum(tally.values())
    if not answered:
        return t("classroom.room_none")
    top = max(tally, key=tally.get)
    label = lambda c: t(f"tour.{step.id}.choice.{c}")  # noqa: E731
    if correct is None:
        return t("classroom.room_top", top=tally[top], answered=answered, choice=label(top))
    values = dict(top=tally[top], answered=answered, choice=label(top))
    if top == correct:
        return t("classroom.room_agrees", **values)
    return t("classroom.room_differs", **values, correct=label(correct))


def room_chart(step: tour.Step, tally: dict[str, int], correct: str | None) -> alt.Chart:
    """The room's answers, one bar a choice, the lab's answer in green: read from across a room."""
    df = pd.DataFrame([{"choice": t(f"tour.{step.id}.choice.{c}"), "answers": n, "lab": c == correct}
                       for c, n in tally.items()])
    base = alt.Chart(df).encode(
        y=alt.Y("choice:N", title=None, sort=None, axis=alt.Axis(labelLimit=300)),
        x=alt.X("answers:Q", title=t("classroom.room_axis"), axis=alt.Axis(tickMinStep=1, format="d"),
                scale=alt.Scale(domain=[0, max(1, int(df.answers.max()) * 1.25)])))
    bars = base.mark_bar().encode(color=alt.condition(alt.datum.lab, alt.value("#2ca02c"), alt.value("#9e9e9e")))
    text = base.mark_text(align="left", dx=5, fontSize=16, fontWeight="bold").encode(text="answers:Q")
    return (bars + text).properties(height=alt.Step(34))


def room_result(code: str, n: int, correct: str | None, sentence: bool = True) -> None:
    """After the reveal: the room's distribution beside the lab's answer, and its sentence (the lecturer's screen
    has it in its class line already)."""
    step = tour.STEPS[n - 1]
    try:
        tally = store().tally(code, n)
    except ClassError as e:
        st.warning(words(e))
        return
    st.markdown(labelled(t("classroom.room_title"), room_reading(step, tally, correct) if sentence else ""))
    present.chart(room_chart(step, tally, correct), width="stretch")


def lab_answers(steps) -> dict[int, str]:
    """{n: the lab's answer} of the steps numbered `steps` whose data can be had (the tour's cached measurements)."""
    from ui import tour_views

    out = {}
    for n in steps:
        try:
            out[n] = tour_views.measure(tour.STEPS[n - 1]).answer.correct
        except tour.Missing:
            pass
    return out


def room_summary(code: str) -> str:
    """How the room did over the tour: of the revealed steps, the share of answers that matched the lab's."""
    try:
        tallies = store().tallies(code)
        state = store().state(code)
    except ClassError as e:
        return words(e)
    correct = lab_answers(state["revealed"])
    parts, right_total, total = [], 0, 0
    for n in state["revealed"]:
        if n not in correct or not sum(tallies.get(n, {}).values()):
            continue
        right, answered = tallies[n].get(correct[n], 0), sum(tallies[n].values())
        right_total, total = right_total + right, total + answered
        parts.append(t("classroom.summary_step", n=n, right=right, answered=answered))
    if not total:
        return t("classroom.summary_none")
    return t("classroom.summary", share=right_total / total, right=right_total, answered=total,
             steps=", ".join(parts))


def lecture(n: int, revealed: bool) -> dict | None:
    """The lecturer's side of the tour page, drawn under its title: start or end a class (sidebar), and, while one
    runs, the class brought to this step, the join panel or counts, the presenter link. The class, or None."""
    lect = lecturer()
    if error := st.session_state.pop("classroom_error", None):
        st.error(error)
    if lect is None:
        st.sidebar.button(t("classroom.start"), on_click=start, icon=":material/groups:")
        return None
    if error := follow(lect, n, revealed):
        st.error(error)
        return None
    st.sidebar.button(t("classroom.end"), on_click=end, icon=":material/logout:")
    resume_link(lect)
    lecturer_panel(lect)
    return lect


# --- the student ---------------------------------------------------------------------------------------------------------
def _vote(code: str, student: str, n: int, choice: str) -> None:
    if not allowed("answer", ANSWERS_PER_MINUTE):
        st.session_state["classroom_error"] = t("classroom.too_fast")
        return
    try:
        store().vote(code, student, n, choice)
    except ClassError as e:
        st.session_state["classroom_error"] = words(e)


def _join_form(message: str | None = None) -> None:
    st.title(t("classroom.join_title"))
    if message:
        st.error(message)
    with st.form("join"):
        typed = st.text_input(t("classroom.code_label"), max_chars=20, placeholder="ABC234")
        if st.form_submit_button(t("classroom.join_button"), type="primary", width="stretch"):
            st.query_params.pop(STUDENT, None)
            st.query_params[CODE] = typed
            st.rerun()


def _follow(code: str, seen: str) -> None:
    """The phone follows the lecturer: its browser asks STATE_PATH every STUDENT_POLL s and reruns the page only when
    the class's moment is no longer `seen` (a hall of waiting phones costs one cached read a poll, no script run)."""
    FOLLOW(key="classroom_follow", data={"path": f"{STATE_PATH.lstrip('/')}?{CODE}={code}", "seen": seen,
                                         "every": STUDENT_POLL, "hold": RERUN_HOLD}, on_moved_change=lambda: None)


def _student(code: str) -> str | None:
    """The student's token: the URL's (a reload comes back as the same student), else a new one."""
    student = st.query_params.get(STUDENT)
    if student:
        try:
            store().answers(code, student)
            return student
        except ClassError:
            pass  # not of this class (an old link): join anew
    if not allowed("join", JOINS_PER_MINUTE):
        st.error(t("classroom.too_fast"))
        return None
    try:
        student = store().join(code)
    except ClassError as e:
        _join_form(words(e))
        return None
    st.query_params[STUDENT] = student
    return student


def student_page() -> None:
    """A phone's page: the lecturer's current step, its choices as big buttons, then the reveal beside the room."""
    from ui import tour_views

    raw = st.query_params.get(CODE, "")
    if not raw:
        _join_form()
        return
    try:
        code = classroom.normal_code(raw)
    except ClassError as e:
        _join_form(words(e))
        return
    state = current_state(code)
    if state is None:
        _join_form(t("classroom.error.no_class", code=code))
        return
    student = _student(code)
    if student is None:
        return
    n = state["step"]
    step, shown = tour.STEPS[n - 1], n in state["revealed"]
    _follow(code, moment(state))
    if error := st.session_state.pop("classroom_error", None):
        st.error(error)
    st.caption(t("classroom.student_head", code=code, n=n, total=len(tour.STEPS)))
    st.subheader(t(f"tour.{step.id}.title"))
    answers = store().answers(code, student)
    if not step.choices:
        st.info(student_summary(code, answers))
        return
    try:
        st.markdown(f"**{t(f'tour.{step.id}.question', **tour_views.question_values(step))}**")
        answer = tour_views.measure(step).answer if shown else None
    except tour.Missing as e:
        st.warning(words(e))
        return
    mine = answers.get(n)
    for c in step.choices:
        st.button(t(f"tour.{step.id}.choice.{c}"), key=f"choice_{n}_{c}", width="stretch", disabled=shown,
                  type="primary" if c == mine else "secondary", on_click=_vote, args=(code, student, n, c),
                  icon=":material/check:" if c == mine else None)
    if answer is None:
        st.caption(t("classroom.change_hint"))
        return
    verdict = "" if mine is None else t("tour.right" if mine == answer.correct else "tour.wrong")
    st.success(t("tour.verdict", answer=t(f"tour.{step.id}.choice.{answer.correct}"), guess=verdict))
    room_result(code, n, answer.correct)
    st.markdown(tour_views.takeaway_line(step, answer))


def student_summary(code: str, answers: dict[int, str]) -> str:
    """The last step on a phone: how the student's answers matched the lab's on the revealed steps."""
    state = class_state(code) or {"revealed": []}
    correct = lab_answers([n for n in state["revealed"] if n in answers])
    right, answered = sum(answers[n] == c for n, c in correct.items()), len(correct)
    return t("classroom.student_summary", right=right, answered=answered) if answered else t("classroom.waiting")
