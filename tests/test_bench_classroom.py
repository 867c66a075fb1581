"""bench/classroom.py with a class of 5 against a real `streamlit run streamlit_app.py` (no browser): every student
joins, answers, is counted on the lecturer's page, and follows the reveal (down to the takeaway) and the next step
through the page's poll route; every click's rerun is reported finished; the tally is the one sent; waiting phones
run no script. Timings are not checked here (the bench reports them); every wait is for a state, never a fixed
sleep."""
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
            yield asyncio.run(classroom.run(url, pid, db, students=N, join_window=0, vote_window=0, idle=3,
                                            baseline=0, timeout=45, settle=0))


def test_every_student_joins_and_is_counted(result):
    assert result["join"]["n"] == N and result["join"]["failures"] == 0, result["join"]
    assert result["join"]["store_students"] == N
    assert result["lecturer_key_left_url"]  # the resume link's key was taken out of the lecturer's address
    vote = result["vote"]
    assert vote["click_rerun"]["n"] == N and vote["click_rerun"]["failures"] == 0, vote["click_rerun"]
    assert vote["tally"] == classroom.expected_tally(range(N)), vote
    assert vote["lecturer_final_count"] == N
    for k in ("in_lecturer_count", "in_lecturer_count_bound", "in_database"):
        assert vote[k]["n"] == vote["click_rerun"]["n"] and vote[k]["never"] == 0, (k, vote[k])


def test_every_phone_follows_the_lecturer(result):
    assert result["reveal"]["n"] == N and result["reveal"]["never"] == 0, result["reveal"]
    assert result["advance"]["n"] == N and result["advance"]["never"] == 0, result["advance"]
    assert result["exceptions_shown"] == 0, result["exception_messages"]


def test_waiting_phones_poll_the_route_and_run_no_script(result):
    idle = result["idle"]
    assert idle["polls"] >= N and idle["poll_failures"] == 0, idle  # each phone asked at least once in 3 s
    assert idle["script_runs"] == 0, idle
