"""bench/classroom.py with a class of 5 against a real `streamlit run streamlit_app.py` (no browser): every student
joins, answers, is counted on the lecturer's page, and follows the reveal and the next step; the tally is the one
sent. Timings are not checked here (the bench reports them); every wait is for a state, never a fixed sleep.

Two things the bench found and reports are not asserted, because they are not settled (bench/README.md): now and
then a click's rerun never reports script_finished to the generator though its vote is stored, and a phone's rerun
after the reveal stops before the takeaway. Asserted instead: the store has every click's vote, the lecturer counts
them all, and every phone reaches the next step."""
import asyncio

import pytest

from bench import classroom, loadgen

N = 5


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    db = str(tmp_path_factory.mktemp("bench_class") / "class.sqlite3")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("IBL_CLASSROOM_DB", db)  # the server inherits it
        with loadgen.serve(classroom.APP) as (url, pid):
            yield asyncio.run(classroom.run(url, pid, db, students=N, join_window=0, vote_window=0, idle=0,
                                            baseline=0, timeout=45, settle=0))


def test_every_student_joins_and_is_counted(result):
    assert result["join"]["n"] == N and result["join"]["failures"] == 0, result["join"]
    assert result["join"]["store_students"] == N
    assert result["lecturer_key_left_url"]  # the resume link's key was taken out of the lecturer's address
    vote = result["vote"]
    # every click was sent: the store has them all, whether or not its rerun was reported finished
    assert vote["tally"] == classroom.expected_tally(range(N)), vote
    assert vote["lecturer_final_count"] == N
    for k in ("in_lecturer_count", "in_lecturer_count_bound", "in_database"):
        assert vote[k]["n"] == vote["click_rerun"]["n"] and vote[k]["never"] == 0, (k, vote[k])


def test_every_phone_follows_the_lecturer(result):
    assert result["advance"]["n"] == N and result["advance"]["never"] == 0, result["advance"]
    assert result["exceptions_shown"] == 0, result["exception_messages"]
