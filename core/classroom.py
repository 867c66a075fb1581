"""A class's shared state for the lecture tour: its join code, the presenter's key, the current step, which steps
are revealed and each student's answers, kept in a real database (no Streamlit here).

A lecturer creates a class (`create`) and gets a short code to show and a key to keep; students join from their
phones with the code (`join`) and answer the current step (`vote`); the lecturer moves on (`advance`), reveals
(`reveal`) and ends the class (`end`). Several server processes may serve one class (DESIGN.md), so nothing lives
in a process's memory: every call is one short transaction. The default is an SQLite file in WAL mode (one machine,
any number of processes); a postgresql:// URL lets processes on several machines share one class.

Rules, each refused with a ClassError (a message fit to show, in every language):
- only the presenter key moves, reveals or ends a class; the database keeps only its SHA-256;
- only the current step takes answers, until it is revealed: a phone that lags behind must not change a tally
  the room is already looking at, and the lecturer going back to an unrevealed step opens it again;
- one answer per student and step: a changed answer replaces the earlier one (a primary key and an upsert);
- a class ends on the lecturer's word or after IDLE_SECONDS without activity; its code then stops working, and
  its rows are deleted when the next class is created. A student is a random token: no personal data.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path
from typing import Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from core.messages import Explained

MAX_CLASSES = 200  # classes open at once on one database: each new one is refused beyond that
MAX_STUDENTS = 1000  # students per class (a large lecture hall, with phones that join twice)
IDLE_SECONDS = 4 * 3600  # a class without activity for this long reads as ended (a lecture plus a break)
CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O or 1/I: nothing to confuse when typing on a phone
CODE_LENGTH = 6  # 32**6 ≈ 10**9 codes: guessing a live one among 200 takes millions of tries
DEFAULT_PATH = "~/.cache/ibl/classroom.sqlite3"
BUSY_TIMEOUT_MS = 10_000  # how long an SQLite writer waits for another before giving up
RETRIES = 3  # further tries of a transaction the database refused for contention (locked, deadlock)
TOUCH_EVERY = 60  # seconds: a vote records activity at most this often, not one write of the class row per vote
MAX_CHOICE = 64  # characters of a choice id
_LOCK_TABLES, _LOCK_CREATE = 0x1B1C1A54, 0x1B1C1A55  # PostgreSQL advisory locks: one at a time


class ClassError(Explained):
    """A classroom request refused: a bad or unknown code, a wrong key, a closed step... (catalogue:
    classroom.error.*)."""


metadata = sa.MetaData()
classes = sa.Table(
    "classroom_class", metadata,
    sa.Column("code", sa.String(CODE_LENGTH), primary_key=True),
    sa.Column("key_hash", sa.String(64), nullable=False),  # sha256 of the presenter key, hex
    sa.Column("steps", sa.JSON, nullable=False),  # each step's choice ids, in order
    sa.Column("step", sa.Integer, nullable=False),  # the current step, from 1
    sa.Column("ended", sa.Boolean, nullable=False),
    sa.Column("active", sa.Float, nullable=False),  # last activity (seconds since the epoch)
)
students = sa.Table(
    "classroom_student", metadata,
    sa.Column("code", sa.String(CODE_LENGTH), primary_key=True),
    sa.Column("student", sa.String(64), primary_key=True),
)
votes = sa.Table(
    "classroom_vote", metadata,
    sa.Column("code", sa.String(CODE_LENGTH), primary_key=True),
    sa.Column("student", sa.String(64), primary_key=True),
    sa.Column("step", sa.Integer, primary_key=True),
    sa.Column("choice", sa.String(MAX_CHOICE), nullable=False),
    sa.Index("classroom_vote_tally", "code", "step"),  # the primary key starts with the student: tallies need this
)
reveals = sa.Table(
    "classroom_reveal", metadata,
    sa.Column("code", sa.String(CODE_LENGTH), primary_key=True),
    sa.Column("step", sa.Integer, primary_key=True),
)


def default_url() -> str:
    """The database from the setting IBL_CLASSROOM_DB (a URL or a file path), else an SQLite file in the user's
    cache; a path's folders are created."""
    return _url(os.environ.get("IBL_CLASSROOM_DB") or DEFAULT_PATH)


def _url(url: str) -> str:
    if "://" not in url:  # a path
        path = Path(url).expanduser().resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    for plain in ("postgresql://", "postgres://"):  # psycopg 3, not SQLAlchemy's default psycopg2
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain):]
    return url


def _engine(url: str) -> sa.Engine:
    if not url.startswith("sqlite"):
        # a few connections per server process; pre-ping survives a database restart between lectures
        return sa.create_engine(url, pool_size=5, max_overflow=10, pool_pre_ping=True, pool_recycle=1800)
    engine = sa.create_engine(url)

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi, _record):
        dbapi.isolation_level = None  # pysqlite's own BEGIN is deferred; _begin issues ours instead
        cursor = dbapi.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL stays consistent; a power cut may lose the last votes
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn):
        # A writer takes the write lock when it begins, where busy_timeout waits for it: a deferred transaction
        # that reads first and writes later fails at once with "database is locked" when another got there first.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("classroom_read") else "BEGIN IMMEDIATE")

    return engine


def _transient(error: sa.exc.DBAPIError) -> bool:
    """Contention worth another try: SQLite's lock past busy_timeout, PostgreSQL's deadlock or serialization."""
    orig = error.orig
    return "database is locked" in str(orig) or getattr(orig, "sqlstate", None) in ("40001", "40P01")


def normal_code(raw) -> str:
    """A typed code as stored: spaces and hyphens dropped, upper case; a malformed one is refused (ClassError)."""
    code = "".join(raw.split()).replace("-", "").upper() if isinstance(raw, str) else ""
    if len(code) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        raise ClassError("classroom.error.bad_code", code=str(raw)[:20], length=CODE_LENGTH)
    return code


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ClassStore:
    """The classes on one database. `url`: a file path, sqlite:///… or postgresql://…; None: default_url().
    `clock` (seconds since the epoch) is there for tests of the idle timeout."""

    def __init__(self, url: str | None = None, clock: Callable[[], float] = time.time):
        self._engine = _engine(_url(url) if url else default_url())
        self._postgres = self._engine.dialect.name == "postgresql"
        self._clock = clock
        self._run(self._create_tables)

    def close(self) -> None:
        self._engine.dispose()

    # --- the lecturer ---------------------------------------------------------------------------------------
    def create(self, steps: Sequence[Sequence[str]]) -> tuple[str, str]:
        """A new class at step 1: (its code, the presenter key). `steps`: each step's choice ids, in order (as in
        core.tour.STEPS; () for a step that asks nothing). Classes that have ended are deleted first."""
        steps = [list(choices) for choices in steps]
        if not steps or any(len(set(c)) != len(c) or not all(isinstance(x, str) and 0 < len(x) <= MAX_CHOICE
                                                               for x in c) for c in steps):
            raise ValueError(f"steps must be a non-empty list of lists of distinct choice ids, got {steps!r}")
        key = secrets.token_urlsafe(24)

        def work(conn):
            now = self._clock()
            if self._postgres:  # concurrent creates count and pick codes one at a time
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_CREATE)))
            over = sa.or_(classes.c.ended, classes.c.active < now - IDLE_SECONDS)
            for table in (votes, students, reveals):
                conn.execute(table.delete().where(table.c.code.in_(sa.select(classes.c.code).where(over))))
            conn.execute(classes.delete().where(over))
            if conn.scalar(sa.select(sa.func.count()).select_from(classes)) >= MAX_CLASSES:
                raise ClassError("classroom.error.too_many_classes", limit=MAX_CLASSES)
            while True:
                code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
                if conn.scalar(sa.select(sa.func.count()).where(classes.c.code == code)) == 0:
                    break
            conn.execute(classes.insert().values(code=code, key_hash=_hash(key), steps=steps, step=1, ended=False,
                                                 active=now))
            return code

        return self._run(work), key

    def is_presenter(self, code: str, presenter_key: str | None) -> bool:
        """Whether `presenter_key` is this class's key (so the page shows the lecturer's controls)."""
        code = normal_code(code)
        return self._run(lambda conn: self._key_ok(self._class(conn, code), presenter_key), read=True)

    def advance(self, code: str, presenter_key: str, step: int) -> None:
        """Move the class to `step` (forwards or back): the step students answer."""
        self._present(code, presenter_key, (step,), lambda conn, code: conn.execute(
            classes.update().where(classes.c.code == code).values(step=step)))

    def reveal(self, code: str, presenter_key: str, step: int) -> None:
        """Reveal `step`: it takes no more answers. Revealing twice is harmless."""
        insert = (postgresql.insert if self._postgres else sqlite.insert)(reveals)
        self._present(code, presenter_key, (step,), lambda conn, code: conn.execute(
            insert.values(code=code, step=step).on_conflict_do_nothing()))

    def end(self, code: str, presenter_key: str) -> None:
        """End the class: its code stops working at once."""
        self._present(code, presenter_key, (), lambda conn, code: conn.execute(
            classes.update().where(classes.c.code == code).values(ended=True)))

    # --- the students ---------------------------------------------------------------------------------------
    def join(self, code: str) -> str:
        """A new student of the class: a random token, the only thing the class knows of them."""
        code = normal_code(code)
        student = secrets.token_urlsafe(16)

        def work(conn):
            self._class(conn, code, lock=True)  # on PostgreSQL: joins to one class count one at a time
            if conn.scalar(sa.select(sa.func.count()).where(students.c.code == code)) >= MAX_STUDENTS:
                raise ClassError("classroom.error.class_full", code=code, limit=MAX_STUDENTS)
            conn.execute(students.insert().values(code=code, student=student))
            self._touch(conn, code)

        self._run(work)
        return student

    def vote(self, code: str, student: str, step: int, choice: str) -> None:
        """The student's answer to `step`, the current step, before its reveal; replaces their earlier one."""
        code = normal_code(code)

        def work(conn):
            # A shared lock on PostgreSQL: a reveal (which locks the row) waits for votes in flight, and votes
            # that come after it see it, so no vote lands after the room has seen the tally.
            row = self._class(conn, code, lock="share")
            self._student(conn, code, student)
            self._step(row, step)
            if step != row.step:
                raise ClassError("classroom.error.not_current", step=step, current=row.step)
            if conn.scalar(sa.select(sa.func.count()).where(reveals.c.code == code, reveals.c.step == step)):
                raise ClassError("classroom.error.revealed", step=step)
            if choice not in row.steps[step - 1]:
                raise ClassError("classroom.error.bad_choice", step=step, choice=str(choice)[:MAX_CHOICE])
            insert = (postgresql.insert if self._postgres else sqlite.insert)(votes).values(
                code=code, student=student, step=step, choice=choice)
            conn.execute(insert.on_conflict_do_update(index_elements=[votes.c.code, votes.c.student, votes.c.step],
                                                      set_={"choice": insert.excluded.choice}))
            return row.active

        if self._run(work) < self._clock() - TOUCH_EVERY:  # apart: an update would need the row's lock for itself
            self._run(lambda conn: self._touch(conn, code))

    def answers(self, code: str, student: str) -> dict[int, str]:
        """The student's answers so far, {step: choice} (a phone that reloads shows them again)."""
        code = normal_code(code)

        def work(conn):
            self._class(conn, code)
            self._student(conn, code, student)
            rows = conn.execute(sa.select(votes.c.step, votes.c.choice).where(votes.c.code == code,
                                                                              votes.c.student == student))
            return dict(sorted(rows.tuples()))

        return self._run(work, read=True)

    # --- anyone with the code -------------------------------------------------------------------------------
    def state(self, code: str) -> dict:
        """{"step": the current step, "revealed": the revealed steps in order, "students": how many joined}."""
        code = normal_code(code)

        def work(conn):
            row = self._class(conn, code)
            revealed = conn.scalars(sa.select(reveals.c.step).where(reveals.c.code == code).order_by(reveals.c.step))
            count = conn.scalar(sa.select(sa.func.count()).where(students.c.code == code))
            return {"step": row.step, "revealed": list(revealed), "students": count}

        return self._run(work, read=True)

    def tally(self, code: str, step: int) -> dict[str, int]:
        """{choice: answers} for every choice of `step`, in order (0 where none). Not hidden before the reveal:
        whether to show it is the page's decision."""
        return self._tallies(normal_code(code), (step,))[step]

    def tallies(self, code: str) -> dict[int, dict[str, int]]:
        """Every step's tally, {step: {choice: answers}} (the tour's summary for this class)."""
        return self._tallies(normal_code(code), None)

    # --- inside ---------------------------------------------------------------------------------------------
    def _run(self, work: Callable, read: bool = False):
        """`work(connection)` in one transaction, tried again where the database refused it for contention."""
        for attempt in range(RETRIES + 1):
            try:
                with self._engine.connect() as conn:
                    if read:
                        conn.execution_options(classroom_read=True)
                    with conn.begin():
                        return work(conn)
            except sa.exc.DBAPIError as error:
                if not _transient(error):
                    raise
                if attempt == RETRIES:
                    raise ClassError("classroom.error.busy") from error
                time.sleep(0.05 * 2 ** attempt + secrets.randbelow(50) / 1000)

    def _create_tables(self, conn) -> None:
        if self._postgres:  # two server processes starting together must not both create a table
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_TABLES)))
        metadata.create_all(conn)

    def _class(self, conn, code: str, lock: bool | str = False):
        """The open class's row (locked for update, or shared, on PostgreSQL); an unknown, ended or idle code
        is refused alike: the person typing it can do the same about each (ask for the current code)."""
        query = sa.select(classes).where(classes.c.code == code)
        if lock:
            query = query.with_for_update(read=lock == "share")
        row = conn.execute(query).first()
        if row is None or row.ended or row.active < self._clock() - IDLE_SECONDS:
            raise ClassError("classroom.error.no_class", code=code)
        return row

    def _touch(self, conn, code: str) -> None:
        conn.execute(classes.update().where(classes.c.code == code).values(active=self._clock()))

    @staticmethod
    def _key_ok(row, key) -> bool:
        return isinstance(key, str) and hmac.compare_digest(_hash(key), row.key_hash)

    @staticmethod
    def _step(row, step) -> None:
        if type(step) is not int or not 1 <= step <= len(row.steps):
            raise ClassError("classroom.error.bad_step", step=str(step)[:20], total=len(row.steps))

    @staticmethod
    def _student(conn, code: str, student) -> None:
        if not isinstance(student, str) or not conn.scalar(
                sa.select(sa.func.count()).where(students.c.code == code, students.c.student == student)):
            raise ClassError("classroom.error.unknown_student", code=code)

    def _present(self, code, key, steps: tuple, change) -> None:
        """A presenter's change: the key checked, then the steps it names, then `change(conn, code)` made."""
        code = normal_code(code)

        def work(conn):
            row = self._class(conn, code, lock=True)
            if not self._key_ok(row, key):
                raise ClassError("classroom.error.bad_key", code=code)
            for step in steps:
                self._step(row, step)
            change(conn, code)
            self._touch(conn, code)

        self._run(work)

    def _tallies(self, code: str, only: tuple | None) -> dict[int, dict[str, int]]:
        """{step: {choice: answers}} for the steps `only` (each checked), or for every step."""
        def work(conn):
            row = self._class(conn, code)
            query = sa.select(votes.c.step, votes.c.choice, sa.func.count()).where(votes.c.code == code)
            if only is not None:
                for step in only:
                    self._step(row, step)
                query = query.where(votes.c.step.in_(only))
            counts = {(s, c): n for s, c, n in conn.execute(query.group_by(votes.c.step, votes.c.choice))}
            wanted = only if only is not None else range(1, len(row.steps) + 1)
            return {s: {c: counts.get((s, c), 0) for c in row.steps[s - 1]} for s in wanted}

        return self._run(work, read=True)
