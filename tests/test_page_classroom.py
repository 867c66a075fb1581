"""The classroom through Streamlit's AppTest: a lecturer starts a class on the tour, three phones join with its code,
answer, the lecturer reveals; the room's answers are counted as they were given; bad codes, a forged presenter link
and a reload. (The browser test in test_browser.py drives the same with real phones' screens and WebSockets.)"""
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from starlette.requests import Request
from streamlit.testing.v1 import AppTest

from core import classroom as cr
from core import tour
from ui import classroom as ui_classroom

ROOT = Path(__file__).resolve().parents[1]
WORDS = {"en": {"start": "Start a class", "reveal": "Reveal", "joined": "**3** joined", "answered": "**3** answered",
                "room": "2 of 3 expected", "next": "Next"},
         "zh": {"start": "开始课堂", "reveal": "揭晓", "joined": "已加入 **3** 人", "answered": "已有 **3** 人作答",
                "room": "3 人中有 2 人预期", "next": "下一步"}}


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.setenv("IBL_CLASSROOM_DB", str(tmp_path / "class.sqlite3"))
    return cr.ClassStore(str(tmp_path / "class.sqlite3"))


def app(page: str, lang: str = "en", **params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
    at.query_params["lang"] = lang
    for k, v in params.items():
        at.query_params[k] = v
    at.switch_page(page)
    return at.run()


def texts(at) -> str:
    return " ".join([m.value for m in at.markdown] + [s.value for s in at.success] + [i.value for i in at.info]
                    + [e.value for e in at.error] + [c.value for c in at.caption] + [w.value for w in at.warning])


def label(at, text):
    found = [b for b in at.button if b.label == text]
    assert found, f"no button {text!r} among {[b.label for b in at.button]}"
    return found[0]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_class_answers_a_step_and_sees_the_room_beside_the_lab(db, lang):
    w = WORDS[lang]
    lecturer = app("pages/tour.py", lang, step="1")
    label(lecturer.sidebar, w["start"]).click().run()
    assert not lecturer.exception
    code, key = (lecturer.session_state[ui_classroom.LECTURER][k] for k in ("code", "key"))
    main = " ".join(m.value for m in lecturer.main.markdown)
    assert code in main and key not in main  # the code is projected, the key never
    assert lecturer.query_params["class"] in (code, [code]) and "key" not in lecturer.query_params

    step = tour.STEPS[0]
    picks = [step.choices[0], step.choices[0], step.choices[-1]]  # by hand: two for the first choice, one the last
    phones = []
    for pick in picks:
        phone = app("pages/join.py", lang, code=code.lower())  # typed in lower case: still the code
        assert not phone.exception and phone.query_params["student"]
        label(phone, lecturer_label(step, pick, lang)).click().run()
        assert not phone.exception
        phones.append(phone)
    assert db.tally(code, 1) == {c: picks.count(c) for c in step.choices}
    assert db.state(code)["students"] == 3

    ui_classroom.class_state.clear()  # the shared state is cached for STATE_TTL: read it anew now
    lecturer.run()
    assert w["joined"] in texts(lecturer)
    label(lecturer, w["reveal"]).click().run()
    assert not lecturer.exception
    assert 1 in db.state(code)["revealed"]
    assert w["room"] in texts(lecturer)  # the most chosen answer, 2 of 3, against the lab's

    ui_classroom.class_state.clear()
    phone = phones[0].run()
    assert not phone.exception
    assert w["room"] in texts(phone) and phone.success  # the lab's verdict and the room's answers
    assert all(b.disabled for b in phone.button if b.key and b.key.startswith("choice_"))
    assert key not in texts(phone)


def lecturer_label(step, choice, lang):
    from core.messages import text

    return text(lang, f"tour.{step.id}.choice.{choice}")


def test_a_reloaded_phone_is_the_same_student_with_the_same_answer(db):
    code, key = db.create([s.choices for s in tour.STEPS])
    phone = app("pages/join.py", code=code)
    student = phone.query_params["student"]
    student = student[0] if isinstance(student, list) else student
    choice = tour.STEPS[0].choices[1]
    label(phone, lecturer_label(tour.STEPS[0], choice, "en")).click().run()
    again = app("pages/join.py", code=code, student=student)  # a reload: the URL keeps the token
    assert not again.exception
    chosen = [b for b in again.button if b.key == f"choice_1_{choice}"][0]
    assert chosen.proto.type == "primary"
    assert db.state(code)["students"] == 1 and db.answers(code, student) == {1: choice}


def test_the_phone_follows_the_lecturer_to_the_next_step(db):
    code, key = db.create([s.choices for s in tour.STEPS])
    phone = app("pages/join.py", code=code)
    db.advance(code, key, 2)
    ui_classroom.class_state.clear()
    phone.run()
    assert f"step 2 of {len(tour.STEPS)}" in texts(phone)
    assert {b.key for b in phone.button if b.key} == {f"choice_2_{c}" for c in tour.STEPS[1].choices}


@pytest.mark.parametrize("raw, key", [("hello!", "is not a class code"), ("ZZZZZZ", "There is no open class")])
def test_a_bad_or_unknown_code_gets_a_clear_message_and_the_form(db, raw, key):
    phone = app("pages/join.py", code=raw)
    assert not phone.exception
    assert any(key in e.value for e in phone.error)
    assert phone.text_input  # the student can type another code


def test_an_ended_class_stops_taking_phones(db):
    code, key = db.create([s.choices for s in tour.STEPS])
    db.end(code, key)
    phone = app("pages/join.py", code=code)
    assert any("There is no open class" in e.value for e in phone.error)


def test_a_forged_presenter_link_gives_no_control(db):
    code, key = db.create([s.choices for s in tour.STEPS])
    visitor = app("pages/tour.py", step="3", **{"class": code, "key": key[:-1] + ("A" if key[-1] != "A" else "B")})
    assert not visitor.exception
    assert any("does not fit the class" in e.value for e in visitor.error)
    assert ui_classroom.LECTURER not in visitor.session_state
    assert db.state(code)["step"] == 1  # nothing moved
    owner = app("pages/tour.py", step="3", **{"class": code, "key": key})  # the real link takes the class back
    assert owner.session_state[ui_classroom.LECTURER]["code"] == code and "key" not in owner.query_params
    assert db.state(code)["step"] == 3


def moment_of(code: str) -> str:
    """What the phones' poll route answers now (its shared read forgotten first)."""
    ui_classroom._moments.clear()
    request = Request({"type": "http", "method": "GET", "query_string": f"code={code}".encode(), "headers": []})
    reply = asyncio.run(ui_classroom.state_endpoint(request))
    assert reply.headers["cache-control"] == "no-store"
    return json.loads(reply.body)["now"]


def test_the_poll_route_says_the_step_and_its_reveal_and_nothing_else(db):
    code, key = db.create([s.choices for s in tour.STEPS])
    assert moment_of(code) == "1"
    assert moment_of(code.lower()) == "1"  # typed as a phone's URL may carry it
    db.reveal(code, key, 1)
    assert moment_of(code) == "1r"
    db.advance(code, key, 2)
    assert moment_of(code) == "2"
    assert key not in moment_of(code)
    db.end(code, key)
    assert moment_of(code) == "over"
    assert moment_of("hello!") == "over" and moment_of("ZZZZZZ") == "over"


def test_the_phone_page_polls_the_route_with_the_moment_it_shows(db):
    code, key = db.create([s.choices for s in tour.STEPS])
    db.reveal(code, key, 1)
    phone = app("pages/join.py", code=code)
    follow = [el for el in phone.get("bidi_component")]
    assert len(follow) == 1, "one follow component on the phone's page"
    data = json.loads(follow[0].proto.json)
    assert data["seen"] == "1r" and data["every"] == ui_classroom.STUDENT_POLL
    assert data["path"] == f"_classroom/state?code={code}"


def test_under_a_base_path_the_poll_route_is_where_the_phone_asks(tmp_path):
    """Under `server.baseUrlPath` Streamlit serves its routes under the path, and a phone at <base>/join asks
    <base>/_classroom/state (its relative path): the route must be there, not at the root (which a proxy that
    forwards only <base>/ never reaches)."""
    from bench.bench_app import free_port, stop_server

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--server.baseUrlPath", "lab"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, env={**os.environ, "IBL_CLASSROOM_DB": str(tmp_path / "c.db")})
    try:
        base = f"http://127.0.0.1:{port}/lab"
        for _ in range(600):  # wait for a state, not a time: the health check under the base path
            try:
                if urllib.request.urlopen(base + "/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.1)
        asked = urllib.parse.urljoin(base + "/join?code=ABC234", "_classroom/state?code=ABC234")
        assert asked == base + "/_classroom/state?code=ABC234"
        with urllib.request.urlopen(asked, timeout=10) as reply:
            assert reply.headers["Content-Type"].startswith("application/json")
            assert json.loads(reply.read()) == {"now": "over"}  # no such class: the phone stops following
    finally:
        stop_server(proc)
