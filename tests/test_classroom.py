"""The classroom's store (core/classroom.py): every rule on an SQLite file and on a real PostgreSQL server that this
module starts (where the server binaries are installed), two stores on one database, a restart, and concurrent
voters (threads, and processes on one SQLite file)."""
import glob
import hashlib
import multiprocessing
import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from core import classroom
from core.classroom import ClassError, ClassStore

STEPS = [("a", "b", "c"), ("x", "y"), ()]  # like core.tour.STEPS: the last asks nothing


# --- a PostgreSQL server for this test session ----------------------------------------------------------------
@pytest.fixture(scope="session")
def postgres_url():
    """A throwaway PostgreSQL server on a unix socket only (no TCP), its data in a temporary folder."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    bindir = Path(bins[-1]).parent if bins else (Path(shutil.which("initdb")).parent if shutil.which("initdb") else None)
    if bindir is None or not (bindir / "postgres").exists():
        pytest.skip("PostgreSQL's server binaries (initdb, postgres) are not installed: apt-get install postgresql")
    as_user = []
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the PostgreSQL server as")
        as_user = ["runuser", "-u", "postgres", "--"]
    tmp = Path(tempfile.mkdtemp(prefix="ibl-pg-"))  # not pytest's tmp_path: the postgres user cannot enter that
    if as_user:
        os.chown(tmp, user.pw_uid, user.pw_gid)
    data = tmp / "data"
    subprocess.run([*as_user, bindir / "initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                    "--no-sync"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with socket.socket() as s:  # with no TCP the port only names the socket file; a free one all the same
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    log = open(tmp / "log", "wb")
    server = subprocess.Popen([*as_user, bindir / "postgres", "-D", data, "-k", tmp, "-p", port,
                               "-c", "listen_addresses=", "-c", "fsync=off"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while subprocess.run([bindir / "pg_isready", "-q", "-h", tmp, "-p", port]).returncode != 0:
            assert server.poll() is None and time.monotonic() < deadline, (tmp / "log").read_text()
            time.sleep(0.2)
        yield f"postgresql://postgres@/postgres?host={tmp}&port={port}"
    finally:
        subprocess.run([*as_user, bindir / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    """An empty database of each kind."""
    if request.param == "sqlite":
        return str(tmp_path / "classroom.sqlite3")
    url = request.getfixturevalue("postgres_url")
    engine = sa.create_engine(classroom._url(url))
    classroom.metadata.drop_all(engine)
    engine.dispose()
    return url


class Clock:
    def __init__(self):
        self.now = time.time()

    def __call__(self):
        return self.now


@pytest.fixture
def open_store(url):
    """Opens stores on the test's database (closed at the end)."""
    stores = []

    def make(**kw):
        stores.append(ClassStore(url, **kw))
        return stores[-1]

    yield make
    for s in stores:
        s.close()


@pytest.fixture
def store(open_store):
    return open_store()


def refused(key, call, *args):
    with pytest.raises(ClassError) as info:
        call(*args)
    assert info.value.message.key == f"classroom.error.{key}", str(info.value)
    return info.value


def rows(store, table):
    with store._engine.connect() as conn:
        return [r._asdict() for r in conn.execute(sa.select(table))]


# --- the rules, on each database ------------------------------------------------------------------------------
def test_a_new_class_has_a_short_typable_code_and_starts_at_step_1(store):
    codes = {store.create(STEPS)[0] for _ in range(20)}
    assert len(codes) == 20
    assert all(len(c) == 6 and set(c) <= set("23456789ABCDEFGHJKLMNPQRSTUVWXYZ") for c in codes)
    assert store.state(codes.pop()) == {"step": 1, "revealed": [], "students": 0}


def test_only_the_hash_of_the_presenter_key_is_stored(store):
    code, key = store.create(STEPS)
    (row,) = [r for r in rows(store, classroom.classes) if r["code"] == code]
    assert row["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert key not in repr(row) and len(key) >= 32
    assert store.is_presenter(code, key) and not store.is_presenter(code, key[:-1] + ("y" if key.endswith("x") else "x"))
    assert not store.is_presenter(code, None)


def test_a_typed_code_ignores_case_and_spaces_and_a_malformed_one_has_its_own_message(store):
    code, _ = store.create(STEPS)
    student = store.join(f"  {code.lower()}\n")
    assert store.state(f"{code[:3]} {code[3:].lower()}")["students"] == 1
    assert store.answers(f"{code[:3]}-{code[3:]}", student) == {}
    for bad in ("", "ABC", code + "2", "0OIL10", None, 123456):
        refused("bad_code", store.join, bad)
    error = refused("bad_code", store.state, "hello!")
    assert "hello!" in str(error) and "hello!" in error.message.text("zh")


def test_an_unknown_code_is_refused_as_no_class(store):
    code, key = store.create(STEPS)
    other = next(c for c in ("ABCDEF", "BCDEFG") if c != code)
    for call, args in ((store.join, ()), (store.state, ()), (store.tally, (1,)), (store.tallies, ()),
                       (store.vote, ("s", 1, "a")), (store.advance, (key, 2)), (store.end, (key,))):
        refused("no_class", call, other, *args)


def test_a_tally_lists_every_choice_of_the_step(store):
    code, _ = store.create(STEPS)
    assert store.tally(code, 1) == {"a": 0, "b": 0, "c": 0}
    assert list(store.tally(code, 1)) == ["a", "b", "c"]
    store.vote(code, store.join(code), 1, "b")
    assert store.tally(code, 1) == {"a": 0, "b": 1, "c": 0}
    assert store.tallies(code) == {1: {"a": 0, "b": 1, "c": 0}, 2: {"x": 0, "y": 0}, 3: {}}


def test_one_answer_per_student_and_step_a_changed_answer_replaces_the_first(store):
    code, key = store.create(STEPS)
    ann, bob = store.join(code), store.join(code)
    store.vote(code, ann, 1, "a")
    store.vote(code, bob, 1, "a")
    store.vote(code, ann, 1, "c")
    store.vote(code, ann, 1, "c")
    assert store.tally(code, 1) == {"a": 1, "b": 0, "c": 1}
    store.advance(code, key, 2)
    store.vote(code, ann, 2, "y")
    assert store.answers(code, ann) == {1: "c", 2: "y"}
    assert store.answers(code, bob) == {1: "a"}
    assert len(rows(store, classroom.votes)) == 3


def test_only_the_presenter_key_moves_reveals_and_ends_a_class(store):
    code, key = store.create(STEPS)
    other_code, other_key = store.create(STEPS)
    for wrong in (other_key, key[:-1], "", None):
        refused("bad_key", store.advance, code, wrong, 2)
        refused("bad_key", store.reveal, code, wrong, 1)
        refused("bad_key", store.end, code, wrong)
    assert store.state(code) == {"step": 1, "revealed": [], "students": 0}
    store.advance(code, key, 3)
    store.advance(code, key, 2)  # back, too
    store.reveal(code, key, 1)
    assert store.state(code) == {"step": 2, "revealed": [1], "students": 0}
    assert store.state(other_code)["step"] == 1


def test_only_the_current_step_takes_answers(store):
    code, key = store.create(STEPS)
    student = store.join(code)
    error = refused("not_current", store.vote, code, student, 2, "x")
    assert "step 1" in str(error)
    store.advance(code, key, 2)
    store.vote(code, student, 2, "x")
    refused("not_current", store.vote, code, student, 1, "a")
    store.advance(code, key, 1)  # back to a step not revealed: it takes answers again
    store.vote(code, student, 1, "a")
    assert store.answers(code, student) == {1: "a", 2: "x"}


def test_no_answer_after_the_reveal(store):
    code, key = store.create(STEPS)
    student = store.join(code)
    store.vote(code, student, 1, "a")
    store.reveal(code, key, 1)
    store.reveal(code, key, 1)  # twice is harmless
    refused("revealed", store.vote, code, student, 1, "b")
    refused("revealed", store.vote, code, store.join(code), 1, "b")
    assert store.tally(code, 1) == {"a": 1, "b": 0, "c": 0}
    store.advance(code, key, 2)
    store.advance(code, key, 1)  # going back to a revealed step does not reopen it
    refused("revealed", store.vote, code, student, 1, "c")
    assert store.state(code)["revealed"] == [1]


def test_a_choice_the_step_does_not_have_is_refused(store):
    code, key = store.create(STEPS)
    student = store.join(code)
    for bad in ("x", "A", "", None, 1):
        refused("bad_choice", store.vote, code, student, 1, bad)
    store.advance(code, key, 3)
    refused("bad_choice", store.vote, code, student, 3, "a")  # the summary asks nothing
    assert store.answers(code, student) == {}


def test_an_unknown_student_is_refused(store):
    code, _ = store.create(STEPS)
    other_code, _ = store.create(STEPS)
    stranger = store.join(other_code)
    for bad in (stranger, "not-a-token", "", None):
        refused("unknown_student", store.vote, code, bad, 1, "a")
        refused("unknown_student", store.answers, code, bad)
    assert store.tally(code, 1) == {"a": 0, "b": 0, "c": 0}


def test_a_step_out_of_range_is_refused(store):
    code, key = store.create(STEPS)
    student = store.join(code)
    for bad in (0, 4, -1, "1", 1.0, True, None):
        refused("bad_step", store.vote, code, student, bad, "a")
        refused("bad_step", store.tally, code, bad)
        refused("bad_step", store.advance, code, key, bad)
        refused("bad_step", store.reveal, code, key, bad)
    error = refused("bad_step", store.advance, code, key, 4)
    assert "1–3" in str(error) and "1–3" in error.message.text("zh")
    assert store.state(code) == {"step": 1, "revealed": [], "students": 1}


def test_an_ended_class_s_code_stops_working(store):
    code, key = store.create(STEPS)
    student = store.join(code)
    store.end(code, key)
    for call, args in ((store.join, ()), (store.state, ()), (store.tally, (1,)), (store.answers, (student,)),
                       (store.vote, (student, 1, "a")), (store.advance, (key, 2)), (store.reveal, (key, 1)),
                       (store.end, (key,)), (store.is_presenter, (key,))):
        refused("no_class", call, code, *args)


def test_an_idle_class_reads_as_ended_and_activity_keeps_it_open(open_store):
    clock = Clock()
    store = open_store(clock=clock)
    code, key = store.create(STEPS)
    student = store.join(code)
    clock.now += classroom.IDLE_SECONDS - 10
    store.vote(code, student, 1, "a")  # activity: the idle time starts again
    clock.now += classroom.IDLE_SECONDS - 10
    assert store.state(code)["students"] == 1
    store.advance(code, key, 2)
    clock.now += classroom.IDLE_SECONDS + 1
    refused("no_class", store.state, code)
    refused("no_class", store.join, code)
    refused("no_class", store.advance, code, key, 1)


def test_classes_that_ended_are_deleted_when_the_next_is_created(open_store):
    clock = Clock()
    store = open_store(clock=clock)
    ended, key = store.create(STEPS)
    store.vote(ended, store.join(ended), 1, "a")
    store.reveal(ended, key, 1)
    store.end(ended, key)
    idle, _ = store.create(STEPS)
    store.join(idle)
    clock.now += classroom.IDLE_SECONDS + 1
    kept, _ = store.create(STEPS)
    for table in (classroom.classes, classroom.students, classroom.votes, classroom.reveals):
        assert {r["code"] for r in rows(store, table)} <= {kept}, table.name


def test_at_most_max_classes_open_at_once(open_store, monkeypatch):
    monkeypatch.setattr(classroom, "MAX_CLASSES", 3)
    clock = Clock()
    store = open_store(clock=clock)
    made = [store.create(STEPS) for _ in range(3)]
    error = refused("too_many_classes", store.create, STEPS)
    assert "3" in str(error)
    store.end(*made[0])
    store.create(STEPS)  # one ended: room for one
    refused("too_many_classes", store.create, STEPS)
    clock.now += classroom.IDLE_SECONDS + 1  # idle classes do not count
    store.create(STEPS)


def test_at_most_max_students_per_class(store, monkeypatch):
    monkeypatch.setattr(classroom, "MAX_STUDENTS", 3)
    code, _ = store.create(STEPS)
    other, _ = store.create(STEPS)
    for _ in range(3):
        store.join(code)
    refused("class_full", store.join, code)
    store.join(other)
    assert store.state(code)["students"] == 3


def test_two_stores_on_one_database_share_a_class(open_store):
    lecturer, phones = open_store(), open_store()  # as two server processes
    code, key = lecturer.create(STEPS)
    students = [phones.join(code) for _ in range(3)]
    for s, choice in zip(students, "aab"):
        phones.vote(code, s, 1, choice)
    assert lecturer.tally(code, 1) == {"a": 2, "b": 1, "c": 0}
    lecturer.reveal(code, key, 1)
    refused("revealed", phones.vote, code, students[2], 1, "a")
    lecturer.advance(code, key, 2)
    assert phones.state(code) == {"step": 2, "revealed": [1], "students": 3}


def test_a_restart_keeps_every_class(url):
    before = ClassStore(url)
    code, key = before.create(STEPS)
    student = before.join(code)
    before.vote(code, student, 1, "c")
    before.reveal(code, key, 1)
    before.advance(code, key, 2)
    before.close()
    after = ClassStore(url)
    try:
        assert after.state(code) == {"step": 2, "revealed": [1], "students": 1}
        assert after.answers(code, student) == {1: "c"}
        assert after.tally(code, 1) == {"a": 0, "b": 0, "c": 1}
        assert after.is_presenter(code, key)
        after.vote(code, student, 2, "y")
    finally:
        after.close()


def test_many_students_voting_at_once_are_all_counted(store):
    """8 threads x 50 students, each joining, answering and changing the answer, through one store."""
    code, _ = store.create(STEPS)
    errors = []

    def room(t):
        try:
            for i in range(50):
                s = store.join(code)
                store.vote(code, s, 1, "a")
                store.vote(code, s, 1, "bc"[(t + i) % 2])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=room, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.tally(code, 1) == {"a": 0, "b": 200, "c": 200}
    assert store.state(code)["students"] == 400


# --- SQLite only -----------------------------------------------------------------------------------------------
def _vote_in_a_process(path, code, n):
    store = ClassStore(path)
    for i in range(n):
        store.vote(code, store.join(code), 1, "abc"[i % 3])
    store.close()


def test_processes_voting_on_one_sqlite_file_are_all_counted(tmp_path):
    path = str(tmp_path / "classroom.sqlite3")
    store = ClassStore(path)
    code, _ = store.create(STEPS)
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter each, as separate server processes are
    procs = [spawn.Process(target=_vote_in_a_process, args=(path, code, 30)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert store.tally(code, 1) == {"a": 30, "b": 30, "c": 30}
    store.close()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path):
    store = ClassStore(str(tmp_path / "c.sqlite3"))
    with store._engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == classroom.BUSY_TIMEOUT_MS
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    store.close()


def test_a_locked_database_is_tried_again_then_refused_as_busy(tmp_path, monkeypatch):
    monkeypatch.setattr(classroom, "BUSY_TIMEOUT_MS", 50)
    path = tmp_path / "c.sqlite3"
    store = ClassStore(str(path))
    code, _ = store.create(STEPS)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock...
    threading.Timer(0.15, other.rollback).start()  # ...briefly: a retry gets through
    student = store.join(code)
    other.execute("BEGIN IMMEDIATE")  # ...for good: refused, worded
    refused("busy", store.join, code)
    assert store.state(code)["students"] == 1  # readers are not held up by the writer
    other.rollback()
    other.close()
    store.vote(code, student, 1, "a")
    store.close()


# --- settings --------------------------------------------------------------------------------------------------
def test_the_database_setting_takes_a_path_or_a_url(monkeypatch, tmp_path):
    monkeypatch.delenv("IBL_CLASSROOM_DB", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert classroom.default_url() == f"sqlite:///{tmp_path}/.cache/ibl/classroom.sqlite3"
    assert (tmp_path / ".cache" / "ibl").is_dir()
    monkeypatch.setenv("IBL_CLASSROOM_DB", "~/lab/votes.db")
    assert classroom.default_url() == f"sqlite:///{tmp_path}/lab/votes.db"
    monkeypatch.setenv("IBL_CLASSROOM_DB", "postgresql://u:p@db:5432/lab")
    assert classroom.default_url() == "postgresql+psycopg://u:p@db:5432/lab"
    assert classroom._url("postgres://db/lab") == "postgresql+psycopg://db/lab"
    assert classroom._url("sqlite:////x/y.db") == "sqlite:////x/y.db"
    monkeypatch.setenv("IBL_CLASSROOM_DB", str(tmp_path / "default.sqlite3"))
    store = ClassStore()
    store.create(STEPS)
    store.close()
    assert (tmp_path / "default.sqlite3").exists()


def test_postgresql_urls_use_psycopg_3(postgres_url):
    store = ClassStore(postgres_url)
    assert store._engine.dialect.name == "postgresql" and store._engine.dialect.driver == "psycopg"
    store.close()


def test_steps_must_be_lists_of_distinct_choice_ids(tmp_path):
    store = ClassStore(str(tmp_path / "c.sqlite3"))
    for bad in ([], [("a", "a")], [("a", "")], [("a", 1)], [("x" * 65,)]):
        with pytest.raises(ValueError):
            store.create(bad)
    store.close()

