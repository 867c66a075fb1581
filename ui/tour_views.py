"""The lecture tour's drawing: what a step shows (core.tour measures it, through the cached calls in ui.lab, and
decides which choice is right; nothing here is an answer typed in), its sentences in the session's language, and
where the lecture is (the step, what has been revealed)."""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core import tour
from core.messages import Message
from ui import lab, png, present
from ui.i18n import catalogue, current, joined, labelled, name_of, t, words
from ui.models import class_colour_scale


def measure(step: tour.Step) -> tour.Shown:
    """The step's answer and what shows it; raises tour.Missing where its data cannot be had."""
    return step.measure(lab)


def question_values(step: tour.Step) -> dict:
    """The numbers the step's question quotes (not its answer); raises tour.Missing like measure."""
    return step.asks(lab)


def prompt(step: tour.Step) -> list[tuple[bytes, Message]]:
    """Pictures that set the question up and give nothing away (none for most steps), as PNGs."""
    return _prompt(step.id) if step.prompt else []


@st.cache_resource(show_spinner=False)
def _prompt(step_id: str) -> list[tuple[bytes, Message]]:
    # made once: they depend on the shipped models only, and a class opens a step at once (step 3's rendered its
    # probe images for every visitor: 60 sessions waited 18 s)
    step = next(s for s in tour.STEPS if s.id == step_id)
    return [(png(rgb), caption) for rgb, caption in step.prompt(lab)]


def page_query(step: tour.Step) -> dict[str, str]:
    """The query parameters that open the step's page at the settings its answer was measured at."""
    return lab.query(step.page)


def _label(label: tour.Label) -> str:
    if isinstance(label, Message):  # a NamedTuple: tell it from a tuple of parts first
        return words(label)
    return "".join(_label(part) for part in label) if isinstance(label, tuple) else label


def bar_axis(b: tour.Bars) -> tuple[float, float]:
    """The value axis of a step's bars: from 0 (from 1 on a log scale, where a bar from 0 has no length) to the
    largest value, or to the step's `top` where that lies further (accuracy runs to 100 %)."""
    most = max(bar.value for bar in b.bars)
    return (1.0, most) if b.log else (0.0, max(b.top, most))


def _bars(b: tour.Bars) -> alt.LayerChart:
    """Horizontal bars, each with its label above it and its value printed large at the right end of that line (the
    tour's charts are read from across a room). Nothing sits beside the bars, so they have the whole width on a
    phone as on a projector, and no label or value runs past the chart's edge."""
    df = pd.DataFrame([{"label": _label(bar.label), "value": bar.value} for bar in b.bars])
    colours = {_label(bar.label): bar.colour for bar in b.bars if bar.colour}
    low, high = bar_axis(b)
    s = (1 + present.scale()) / 2  # half the projector's enlargement: ten rows of bars and the takeaway fit 720 px
    scale = alt.Scale(type="log" if b.log else "linear", domain=[low, high], nice=False)
    ticks = {"values": [0, 0.25, 0.5, 0.75, 1]} if b.fmt == ".0%" and not b.log else {}
    c = alt.Color("label:N", legend=None, scale=alt.Scale(domain=list(colours), range=list(colours.values()))
                  ) if colours else alt.value("#4c78a8")
    # a row of 32 px: the label's and the value's line (text up to 15 px tall, ending 1 px above the middle), then
    # the bar (10 px, from 2 px below the middle), then 4 px to the next row's text
    rows = alt.Chart(df).encode(y=alt.Y("label:N", sort=None, axis=None, scale=alt.Scale(paddingInner=0)))
    bars = rows.mark_bar(height=10 * s, yOffset=7 * s).encode(
        x=alt.X("value:Q", title=words(b.title), scale=scale,
                axis=alt.Axis(format="~s" if b.log else b.fmt, tickCount=4, grid=False, **ticks)),
        x2=alt.datum(low), color=c)
    line = dict(baseline="bottom", yOffset=-1 * s)
    labels = rows.mark_text(align="left", fontSize=12 * s, color="#31333f", **line).encode(
        x=alt.value(0), text="label:N")
    values = rows.mark_text(align="right", fontSize=15 * s, fontWeight="bold", **line).encode(
        x=alt.value("width"), text=alt.Text("value:Q", format=",.0f" if b.log else b.fmt))
    return (bars + labels + values).properties(height=alt.Step(32 * s))


def _answers_along_path(data: dict) -> alt.Chart:
    """Each model's top-1 class at every position of the path, one row a model."""
    rows = pd.DataFrame([{"model": r["model"], "x": r["x"], "answer": name_of("shape", r["class"])} for r in data["rows"]])
    return alt.Chart(rows).mark_rect().encode(
        x=alt.X("x:O", title=t("tour.one_pixel.x"), axis=alt.Axis(values=data["ticks"], labelAngle=0)),
        y=alt.Y("model:N", title=None, sort=data["models"]),
        color=alt.Color("answer:N", title=t("tour.one_pixel.answer_legend"), legend=alt.Legend(orient="bottom"),
                        scale=class_colour_scale({r["class"] for r in data["rows"]})),
        tooltip=[alt.Tooltip("model:N", title=t("tour.one_pixel.model")), alt.Tooltip("x:O", title=t("tour.one_pixel.x")),
                 alt.Tooltip("answer:N", title=t("tour.one_pixel.answer_legend"))]).properties(height=alt.Step(30))


# the charts only one step draws (core.tour.Chart.kind -> a drawing of its data)
CHARTS = {"answers_along_path": _answers_along_path,
          # the height holds the axes and legend too (a chart as wide as its column fits its whole box): projector
          # sizes get a taller box, so that the lines keep theirs
          "accuracy_by_distance": lambda d: lab.distance_chart(d["preds"], d["labels"], d["centres"]).properties(
              height=round(260 * present.scale()))}


def _text(step: tour.Step, what: str, a: tour.Answer) -> str:
    """tour.<step>.<what>_<outcome>, or tour.<step>.<what> where one sentence fits every outcome; a value that names
    one of the step's choices is also given worded, as <name>_label."""
    cat = catalogue(current())
    key = f"tour.{step.id}.{what}_{a.correct}"
    key = key if key in cat else f"tour.{step.id}.{what}"
    labels = {f"{k}_label": t(f"tour.{step.id}.choice.{v}") for k, v in a.values.items()
              if isinstance(v, str) and v in step.choices}
    return t(key, **a.values, **labels)


def answer_text(step: tour.Step, a: tour.Answer) -> str:
    """The answer's sentence, and the notes the data calls for."""
    return joined([_text(step, "answer", a)] + [t(f"tour.{step.id}.note_{n}", **a.values) for n in a.notes])


def takeaway_text(step: tour.Step, a: tour.Answer) -> str:
    return _text(step, "takeaway", a)


def takeaway_line(step: tour.Step, a: tour.Answer) -> str:
    return labelled(t("tour.takeaway"), takeaway_text(step, a))


def show_pictures(pics: list[tuple[np.ndarray | bytes, Message]]) -> None:
    """Side by side, at most half the column wide each (one screen on a projector), on a phone too (ONE_SCREEN_CSS):
    the step compares them. A picture is an RGB array or PNG bytes (made once)."""
    for col, (rgb, caption) in zip(st.container(key=PICTURES).columns(max(2, len(pics))), pics):
        col.image(rgb if isinstance(rgb, bytes) else png(rgb), width="stretch")
        col.markdown(words(caption))  # text, not an image caption: projector mode hides those


def summary(left, right) -> None:
    """The last step: what each step found, as its data gives it (a step without data says why): its answer, short
    enough that the whole lecture fits one screen."""
    left.markdown(t("tour.summary.intro"))
    for i, s in enumerate(tour.STEPS[:-1], 1):
        try:
            line = t(f"tour.{s.id}.choice.{measure(s).answer.correct}")
        except tour.Missing:
            line = t("tour.summary.no_data")
        (left if i <= 4 else right).markdown(t("tour.summary.line", n=i, step=t(f"tour.{s.id}.short"), answer=line))


def show(shown: tour.Shown) -> None:
    if shown.pictures:
        show_pictures(shown.pictures)
    if shown.chart is not None:
        chart = _bars(shown.chart) if isinstance(shown.chart, tour.Bars) else CHARTS[shown.chart.kind](shown.chart.data)
        present.chart(chart, width="stretch")



# --- where the lecture is: the step (bookmarked as ?step=N) and what has been revealed -------------------------------
KEYS = "tour_keys"  # the container of the keyboard hint (its CSS class is st-key-tour_keys)
PICTURES = "tour_pictures"  # the container of a step's pictures
HEAD = "tour_head"  # the container of the title and the navigation buttons
# one screen at 1280x720 in projector mode: the navigation beside a smaller title, the question and the answer's
# words left, its picture and takeaway right. A page link wraps rather than cut its label short. A touch screen has
# no keys to press: the hint and the buttons' key caps go. A narrow screen keeps a step's pictures in one row
# (Streamlit would stack its columns), as the step compares them, and the two buttons in one row under the title;
# columns it does stack are as far apart as any two elements (the 'large' gap between them would be 64 px).
ONE_SCREEN_CSS = f"""<style>
h1 {{ font-size: 1.45rem !important; }}
[data-testid="stMainBlockContainer"] {{ padding-top: 3.75rem !important; padding-bottom: 0.5rem !important; }}
[data-testid="stMainBlockContainer"] [data-testid="stVerticalBlock"] {{ gap: 0.6rem; }}
[data-testid="stMainBlockContainer"] [data-testid="stMarkdownContainer"] p {{ font-size: 0.92em; }}
[data-testid="stPageLink"] a, [data-testid="stPageLink"] a * {{
  white-space: normal !important; overflow: visible !important; }}
@media (hover: none), (pointer: coarse) {{
  .st-key-{KEYS}, [data-testid="stButton"] kbd {{ display: none !important; }} }}
.st-key-{PICTURES} [data-testid="stHorizontalBlock"] {{ flex-wrap: nowrap !important; }}
.st-key-{PICTURES} [data-testid="stColumn"] {{ min-width: 0 !important; }}
[data-testid="stMainBlockContainer"] [data-testid="stHorizontalBlock"] {{ row-gap: 0.6rem !important; }}
[data-testid="stMainBlockContainer"] [data-testid="stAlertContainer"] {{ padding: 0.5rem 1rem !important; }}
{present.PHONE} {{
  .st-key-{HEAD} [data-testid="stColumn"]:first-child {{ min-width: 100% !important; }}
  .st-key-{HEAD} [data-testid="stColumn"] + [data-testid="stColumn"] {{ min-width: 0 !important; flex: 1 1 0 !important; }} }}
</style>"""


# projector mode: the tour's words at 0.85 of projector type (20 px, 1.4x a laptop's tour), so that the longest answer
# (step 8's, with its notes) fits the first screen
PROJECTOR_CSS = """<style>
[data-testid="stMainBlockContainer"] [data-testid="stMarkdownContainer"] p { font-size: 0.85em !important; line-height: 1.5; }
</style>"""


def fit_one_screen() -> None:
    """Tighten the page so that a step fits one projector screen (ONE_SCREEN_CSS, PROJECTOR_CSS)."""
    st.html(ONE_SCREEN_CSS + (PROJECTOR_CSS if present.is_on() else ""))


def keys_hint(column) -> None:
    """The keyboard hint, below the left column; hidden on touch screens (ONE_SCREEN_CSS)."""
    column.container(key=KEYS).caption(t("tour.keys"))


STEP = "tour_step"  # session state: the 1-based step shown
REVEALED = "tour_revealed"  # session state: the ids of the steps revealed in this session
HIDE = "tour_hide"  # the sidebar switch: hide answers until revealed (on), or show them at once (self-study)


def current_step() -> tuple[int, bool]:
    """The step to show, and whether the URL's ?step= was usable (seeded once from the URL, then the session's)."""
    if STEP not in st.session_state:
        st.session_state[STEP], ok = tour.step_number(st.query_params.get("step"))
        return st.session_state[STEP], ok
    return st.session_state[STEP], True


def go(n: int) -> None:
    """on_click of the navigation buttons."""
    st.session_state[STEP] = min(max(n, 1), len(tour.STEPS))


def reveal(step_id: str) -> None:
    st.session_state.setdefault(REVEALED, set()).add(step_id)


def is_shown(step_id: str) -> bool:
    return step_id in st.session_state.get(REVEALED, set()) or not st.session_state.get(HIDE, True)
