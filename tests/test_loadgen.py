"""bench/loadgen.py against a tiny app of this test's own, served by a real `streamlit run` (no browser).

Every wait is on a state with a generous timeout (the machine may be busy), never a fixed sleep.
"""
import asyncio
import json
import textwrap
import time

import pytest

from bench import loadgen
from bench.bench_app import free_port
from bench.loadgen import Click, Open, Set, WaitFor

APP = textwrap.dedent('''
    import streamlit as st

    def home():
        value = st.slider("Value", 0, 100, 10, key="val")
        st.write(f"seen={value}")
        if st.button("Go", key="go"):
            st.write("clicked")
        size = st.select_slider("Size", [4, 8, 16], value=8, key="size", format_func=lambda v: f"{v} px")
        pet = st.selectbox("Pet", ["cat", "dog"], key="pet", format_func=str.upper)
        st.write(f"size={size} pet={pet}")

        @st.fragment(run_every=0.3)
        def ticker():
            st.session_state.ticks = st.session_state.get("ticks", 0) + 1
            st.write(f"ticks={st.session_state.ticks}")
        ticker()

    def boom():
        raise ValueError("boom on purpose")

    def big():  # above global.minCachedMessageSize (10 kB): the server sends it by reference once it is cached
        st.markdown("x" * 20_000 + " big end")

    st.navigation([st.Page(home, title="Home", default=True), st.Page(boom, title="Boom", url_path="boom"),
                   st.Page(big, title="Big", url_path="big")]).run()
''')
N = 5
TIMEOUT = 60.0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    app = tmp_path_factory.mktemp("loadgen") / "app.py"
    app.write_text(APP)
    with loadgen.serve(app) as (url, pid):
        yield url, pid


def run(url, script, sessions=N, timeout=TIMEOUT):
    kept = []
    samples = asyncio.run(loadgen.run_sessions(url, sessions, script, timeout=timeout, keep=kept))
    return loadgen.summarize(samples), sorted(kept, key=lambda s: s.index)


def test_sessions_finish_and_widget_values_reach_the_server(server):
    url, _ = server
    summary, sessions = run(url, lambda i: [Open(""), Set(40 + i, kind="slider", key="val"), Click(key="go")])
    for step in ("open /", "set val", "click go"):
        r = summary[step]
        assert (r["count"], r["failures"], r["exceptions"]) == (N, 0, 0), (step, r)
        assert 0 < r["p50_s"] <= r["p95_s"] <= r["max_s"]
    for i, s in enumerate(sessions):  # each session's own value, read back from what the server drew
        assert f"seen={40 + i}" in s.texts()  # the slider value stays set through the click's rerun
        assert "clicked" in s.texts()


def test_exception_page_is_counted(server):
    summary, sessions = run(server[0], [Open("boom")])
    assert summary["open /boom"]["exceptions"] == N and summary["open /boom"]["failures"] == 0
    assert all(s.exceptions == ["boom on purpose"] for s in sessions)


def test_cached_messages_are_reported_and_references_resolved(server):
    summary, sessions = run(server[0], [Open("big"), Open(""), Open("big")])
    assert summary["open /big"]["failures"] == 0
    for s in sessions:
        assert s.cache_hits == 1  # the second visit got a ref_hash, and the page still shows the text
        assert s.texts()[0].endswith(" big end")


def test_fragment_auto_reruns_are_sent_and_timed(server):
    summary, sessions = run(server[0], [Open(""), WaitFor(lambda s: s.fragment_runs >= 3, "three ticks")])
    assert summary["three ticks"]["failures"] == 0
    frag = summary["fragment /"]
    assert frag["count"] >= 3 * N and frag["failures"] == 0
    assert 0 < frag["p50_s"] <= frag["p95_s"] <= frag["max_s"]
    for s in sessions:  # the fragment redrew itself: its counter went up without any full rerun
        ticks = [int(t.split("=")[1]) for t in s.texts() if t.startswith("ticks=")]
        assert ticks and ticks[0] >= 3


def test_missing_server_counts_failures_without_hanging():
    t = time.perf_counter()
    summary, _ = run(f"http://127.0.0.1:{free_port()}", [Open(""), Open("boom")], timeout=5.0)
    assert summary["open /"]["failures"] == N and "open /boom" not in summary  # a failed step ends the session
    assert time.perf_counter() - t < 30


def test_cli_writes_json_with_server_figures(server, tmp_path):
    url, pid = server
    out = tmp_path / "out.json"
    script = json.dumps([{"open": ""}, {"set": {"label": "Value"}, "value": 77}, {"open": "nope"}])
    res = loadgen.main(["--url", url, "--sessions", "2", "--script", script, "--out", str(out)])
    assert json.loads(out.read_text()) == res
    steps = res["runs"][0]["steps"]
    assert steps["set Value"]["count"] == 2 and steps["set Value"]["failures"] == 0
    assert steps["open /nope"]["failures"] == 2  # the server answers an unknown page with page_not_found
    srv = res["runs"][0]["server"]
    assert srv["pid"] == pid and srv["cpu_s"] >= 0 and srv["peak_rss_mb"] > 10


def test_choice_widgets_are_set_by_option_position_as_the_frontend_sends_them(server):
    """A select_slider is a slider element with string values; a selectbox sends its option's shown text."""
    url, _ = server
    summary, sessions = run(url, lambda i: [Open(""), Set(kind="select_slider", key="size", option=2),
                                            Set(kind="selectbox", key="pet", option=1)], sessions=2)
    assert all(r["failures"] == 0 for r in summary.values()), summary
    assert all("size=16 pet=dog" in s.text() for s in sessions)
