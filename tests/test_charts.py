"""ui.charts against Streamlit's and Altair's own output: a cached chart draws the element st.altair_chart draws, its
data are the rows Altair's to_dict inlines, a picture is the array losslessly; and a builder runs once per input,
language and projector mode, whichever session asks."""
import io
import json

import numpy as np
import pyarrow as pa
import pytest
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

from core import messages


@pytest.fixture(autouse=True)
def fresh_cache():
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def _draw_both(calls: list, label: str):
    """One chart drawn twice: by st.altair_chart with projector sizing (present.chart) and by ui.charts.chart."""
    import altair as alt
    import pandas as pd

    from ui import charts, present
    from ui.i18n import t

    def build():
        calls.append(label)
        df = pd.DataFrame({"layer": [1, 2, 3], "distance": [4.5, 9.0, 13.5]})
        return alt.layer(
            alt.Chart(pd.DataFrame({"distance": [12.0]})).mark_rule(strokeDash=[5, 4]).encode(y="distance:Q"),
            alt.Chart(df).mark_line(point=True).encode(x=alt.X("layer:Q", title=t("attention.distance.x")),
                                                       y="distance:Q")).properties(height=200)

    present.toggle()
    present.chart(build(), width="stretch")
    charts.chart("test.distance", (label,), build, width="stretch")


def _charts(at: AppTest) -> list:
    return [el.proto for el in at.get("vega_lite_chart")]


@pytest.mark.parametrize("query", [{}, {"present": "1"}, {"lang": "zh"}])
def test_a_cached_chart_is_the_element_st_altair_chart_draws(query):
    calls = []
    at = AppTest.from_function(_draw_both, args=(calls, "a"))
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    direct, cached = _charts(at)
    assert cached.spec == direct.spec and cached.theme == direct.theme
    assert [(d.name, d.data.data) for d in cached.datasets] == [(d.name, d.data.data) for d in direct.datasets]
    assert ("labelFontSize" in cached.spec) == ("present" in query)  # projector sizes follow the mode
    title = json.loads(cached.spec)["layer"][1]["encoding"]["x"]["title"]  # in the session's language
    assert title == messages.text(query.get("lang", "en"), "attention.distance.x")


def test_the_spec_holds_what_altairs_to_dict_inlines():
    """The same chart through Altair alone (data inlined as rows): the same spec, the data as Arrow instead."""
    import altair as alt
    import pandas as pd

    from ui import charts

    df = pd.DataFrame({"layer": [1, 2, 3], "distance": [4.5, 9.0, 13.5]})
    chart = alt.Chart(df).mark_line().encode(x="layer:Q", y="distance:Q")
    with alt.theme.enable("none"):  # Streamlit draws without Altair's default theme (it sets the size)
        reference = chart.to_dict()
    spec = charts.spec("test.line", (), lambda: chart)
    rows = {name: pa.ipc.open_stream(data).read_all().to_pandas().to_dict("records")
            for name, data in spec["datasets"].items()}
    assert list(rows.values()) == list(reference["datasets"].values()) == [df.to_dict("records")]
    name, = rows
    assert {**spec, "datasets": None, "data": None} == {**reference, "datasets": None, "data": None}
    assert spec["data"] == {"name": name}


def _draw_cached(calls: list, label: str):
    from ui import charts, present

    present.toggle()
    import altair as alt
    import pandas as pd

    def build():
        calls.append(label)
        return alt.Chart(pd.DataFrame({"x": [1, 2]})).mark_bar().encode(x="x:Q")

    charts.chart("test.bars", (label,), build)


def test_a_builder_runs_once_per_input_language_and_mode_for_every_session():
    calls = []
    first = AppTest.from_function(_draw_cached, args=(calls, "a"))
    first.run()
    first.run()  # the same session again
    AppTest.from_function(_draw_cached, args=(calls, "a")).run()  # another session, the same input
    assert calls == ["a"]
    AppTest.from_function(_draw_cached, args=(calls, "b")).run()  # another input
    zh = AppTest.from_function(_draw_cached, args=(calls, "a"))
    zh.query_params["lang"] = "zh"
    zh.run()  # another language
    projector = AppTest.from_function(_draw_cached, args=(calls, "a"))
    projector.query_params["present"] = "1"
    projector.run()  # projector mode
    assert calls == ["a", "b", "a", "a"]
    assert all(len(_charts(at)) == 1 for at in (first, zh, projector))


def _show_picture(calls: list, rgb):
    from ui import charts

    def build():
        calls.append(1)
        return rgb

    charts.image("test.picture", ("p",), build, caption="a picture")


def test_a_picture_is_the_array_losslessly_and_made_once():
    from ui import charts

    rgb = np.random.default_rng(0).integers(0, 256, (24, 40, 3), dtype=np.uint8)
    calls = []
    for _ in range(2):
        at = AppTest.from_function(_show_picture, args=(calls, rgb))
        at.run()
        assert not at.exception and at.get("image")[0].proto.imgs[0].caption == "a picture"
    assert calls == [1]
    data = charts.picture("test.picture", ("q",), lambda: Image.fromarray(rgb))  # a PIL image works alike
    assert data.startswith(b"\x89PNG") and np.array_equal(np.asarray(Image.open(io.BytesIO(data))), rgb)
    # floats in [0, 1] as st.image reads them: times 255, cut (not rounded) to whole numbers
    floats = np.array([[[0.0, 0.5, 1.0], [0.999, 0.002, 0.25]]])
    data = charts.picture("test.picture", ("floats",), lambda: floats)
    assert np.asarray(Image.open(io.BytesIO(data))).tolist() == [[[0, 127, 255], [254, 0, 63]]]


def test_a_digest_follows_the_contents():
    from ui.charts import digest

    a = np.zeros((3, 4, 4), dtype=np.float32)
    b = a.copy()
    assert digest(a) == digest(b) == digest(a.transpose(0, 2, 1).copy())  # equal values, laid out alike
    b[2, 3, 3] = 1e-6
    assert digest(b) != digest(a)
    assert digest(a.reshape(4, 3, 4)) != digest(a)  # the same bytes in another shape
    assert digest(a.astype(np.float64)) != digest(a) and digest(a[:, ::2]) == digest(a[:, ::2].copy())


def test_a_digest_names_a_data_frame_by_its_contents():
    import pandas as pd

    from ui.charts import digest

    rows = pd.DataFrame({"model": ["cnn", "vit"], "train_size": [250, 250], "test_accuracy": [0.9, 0.6]})
    assert digest(rows) == digest(pd.DataFrame(rows.to_dict("list")))  # the same rows made again
    changed = rows.copy()
    changed.loc[1, "test_accuracy"] = 0.61
    assert digest(changed) != digest(rows)
    assert digest(rows.rename(columns={"test_accuracy": "train_accuracy"})) != digest(rows)
    assert digest(rows.astype({"train_size": float})) != digest(rows)  # 250 and 250.0 are different data
    assert digest(rows.iloc[:1]) != digest(rows)


def _tables(calls: list, rows: list[dict]):
    """One table drawn twice: by st.table of the rows themselves and by ui.charts.table (twice: built once)."""
    import pandas as pd
    import streamlit as st

    from ui import charts

    st.table(pd.DataFrame(rows), hide_index=True)
    for _ in range(2):
        charts.table("test.table", ("t",), lambda: calls.append(1) or pd.DataFrame(rows), hide_index=True)
    charts.table("test.rows", ("r",), lambda: rows, hide_index=True)  # a list of rows as st.table reads it
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    st.dataframe(charts.arrow("test.table", ("t",), lambda: calls.append(1) or pd.DataFrame(rows)), hide_index=True)


def test_a_cached_table_is_the_element_st_table_draws_and_is_built_once():
    rows = [{"model": "cnn-center", "accuracy": "91.1%", "images": 4000}, {"model": "vit", "accuracy": "86.8%",
                                                                           "images": 4000}]
    calls = []
    at = AppTest.from_function(_tables, args=(calls, rows))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    direct, *cached = [el.proto for el in at.table]
    assert len(cached) == 3 and calls == [1]
    for proto in cached[:2]:
        assert proto == direct  # the same Arrow bytes and the same options
    frame, cached_frame = [el.proto for el in at.dataframe]
    assert cached_frame.arrow_data == frame.arrow_data  # st.dataframe of the cached table: the frame's own bytes
    shown = pa.ipc.open_stream(cached[2].arrow_data.data).read_all()
    assert shown.column("model").to_pylist() == ["cnn-center", "vit"] and shown.column("images").to_pylist() == [4000,
                                                                                                                  4000]


def _readings(calls: list):
    import streamlit as st

    from ui import charts

    for inputs in [("a", 1), ("a", 1), ("a", 2)]:
        st.markdown(charts.once("test.reading", inputs, lambda inputs=inputs: calls.append(inputs) or str(inputs[1])))


def test_once_makes_each_input_once_whichever_session_asks():
    calls = []
    for lang in ["en", "zh", "en"]:  # three sessions, two languages: a reading is the same in every language
        at = AppTest.from_function(_readings, args=(calls,))
        at.query_params["lang"] = lang
        at.run()
        assert not at.exception and [m.value for m in at.markdown] == ["1", "1", "2"]
    assert calls == [("a", 1), ("a", 2)]


def _keep(calls: list):
    import streamlit as st

    from ui import charts

    for inputs in [("m", "img1"), ("m", "img1"), ("m", "img2")]:
        st.markdown(charts.kept("test.kept", inputs, lambda inputs=inputs: calls.append(inputs) or inputs[1]))


def test_kept_makes_each_input_once_and_holds_at_most_kept_results(monkeypatch):
    from ui import charts

    calls = []
    for _ in range(2):  # two sessions
        at = AppTest.from_function(_keep, args=(calls,))
        at.run()
        assert not at.exception and [m.value for m in at.markdown] == ["img1", "img1", "img2"]
    assert calls == [("m", "img1"), ("m", "img2")]
    made = []
    for i in range(charts.KEPT + 1):  # one more than it holds: the oldest goes
        charts.kept("test.bound", (i,), lambda i=i: made.append(i) or i)
    charts.kept("test.bound", (0,), lambda: made.append("again") or 0)
    assert made[-1] == "again" and len(made) == charts.KEPT + 2


def test_an_object_named_by_its_address_is_refused_as_an_input():
    from ui import charts

    with pytest.raises(TypeError, match="names and numbers"):
        charts.once("test.object", (object(),), lambda: 1)
    with pytest.raises(TypeError, match="names and numbers"):
        charts.kept("test.object", ("model", object()), lambda: 1)
    assert charts.once("test.object", ("model", 3, 0.5, None), lambda: 2) == 2
