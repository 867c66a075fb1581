"""The data page's sections: accuracy by object position, accuracy against training-set size, what the ViT learns,
and the "run a small experiment now" control (the numbers come from core.experiments). The transfer sections
(k-shot probes, pre-training) are in ui/transfer_views.py."""
from __future__ import annotations

import copy
import functools
import threading
import time
from collections.abc import Callable

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core.experiments import architectures
from core.experiments import hunger as hu
from core.experiments import hunger_reading as hr
from core.experiments import hunger_results
from core.experiments import variants_reading as vr
from core.experiments import wording
from core.experiments import positions
from core import card, models, shapes
from core.messages import Message, listing
from ui import charts, compute, present
from ui.i18n import current, t, words
from ui.models import cached_model, colour_scale

LIVE = "live_hunger"  # session state: {"rows": finished live runs, "queue": runs still to do}
LIVE_OPEN = "live_hunger_open"  # session state: the live panel stays open once used (Cancel must not fold it)
LIVE_SIZES = (250, 500, 1_000, 2_000, 4_000)
LIVE_STEPS = (25, 100, 300, 1_000)
# cnn and vit in their colours on every page; the augmented runs in two hues no embedded model has (vit-center's
# orange is on the chart just above)
# (keyed by the series' English identifiers; the charts show `series_text`s in the session's language)
SERIES_COLOURS = {"cnn": models.EMBEDDED["cnn"].colour, hunger_results.series_name("cnn", hu.AUGMENT_PX): "#8c564b",
                  "vit": models.EMBEDDED["vit"].colour, hunger_results.series_name("vit", hu.AUGMENT_PX): "#bcbd22"}
METRICS = ("test_accuracy", "train_accuracy")


@st.cache_resource(show_spinner=False)
def grid_architectures() -> dict:
    """The grid's architectures as facts (core.experiments.architectures): the shipped file, else measured here
    (building the grid's models: seconds of timm and torch)."""
    return architectures.load() or architectures.measure()


def grid_vit_uniform() -> float:
    """Uniform attention's mean distance on the data-hunger grid's ViT, read from the architecture the grid builds
    (its canvas, patch grid and class token), so that no grid size is written here."""
    return grid_architectures()["vit_uniform_distance"]


def results(path, load: Callable) -> tuple[object, tuple | None]:
    """(a results file as `load(path)` reads it, its version: the path, size and modification time), read once per
    version and shared by every session; (None, None) without the file. The version names the rows for ui.charts
    (their charts and readings), so no run reads, digests or reads out the same rows again."""
    version = charts.version(path)
    return (None, None) if version is None else (charts.once("data.results", version, lambda: load(path)), version)


def reading(name: str, version: tuple | None, read: Callable, *rows):
    """read(*rows), once per version of the results they come from (a core reading: a Message, a frame, a flag)."""
    return charts.once(f"data.{name}", (version,), lambda: read(*rows))


def said(name: str, version: tuple | None, read: Callable, *rows) -> list[str]:
    """The Messages (or None) in the list read(*rows) returns, worded in the session's language, once per version
    of the results and language: a section's sentences in one look-up, none worded again on a run."""
    return charts.once(f"data.{name}", (version, current()), lambda: [words(m) for m in read(*rows)])


def _metric_labels() -> dict[str, str]:
    return {"test_accuracy": t("data.chart.test_metric"), "train_accuracy": t("data.chart.train_metric")}


def series_text(series: str) -> str:
    """A chart series ("vit + shift aug") as the session's language names it."""
    return words(hunger_results.series_label(series))


# Streamlit draws a chart of a numeric height at that height in all (title, axes and legend included) and shrinks the
# plot to fit; a plot shorter than its y-axis title collapses to nothing. So a chart with its legend below is this tall
PANEL_HEIGHT = 360


def panel_height(height: int = PANEL_HEIGHT) -> int:
    return round(height * present.scale())


def panel_title(text: str, subtitle: str) -> alt.TitleParams:
    """A chart's title and, in smaller type, what it measures (projector mode sizes titles, not subtitles)."""
    return alt.TitleParams(text, subtitle=subtitle, subtitleFontSize=round(11 * present.scale()))


def text_size() -> int:
    """The size of a chart's own text marks (values printed on bars, a baseline's label)."""
    return round(11 * present.scale())


def axis(**kw) -> alt.Axis:
    """An axis whose end labels sit on their grid lines (Streamlit's theme flushes them inside the axis)."""
    return alt.Axis(labelFlush=False, **kw)


def legend_below(columns: int = 2, **kw) -> alt.Legend:
    """A legend under its chart, in `columns` columns: beside the chart it would take most of a phone's width."""
    return alt.Legend(orient="bottom", direction="vertical", columns=columns, labelLimit=260, **kw)


def series_scale(series) -> alt.Scale:
    """The series' colours, for a colour channel that encodes their labels."""
    return alt.Scale(domain=[series_text(s) for s in series], range=[SERIES_COLOURS[s] for s in series])


# --- where: trained on the centre, tested everywhere ----------------------------------------------------------------
POSITION_NAMES = positions.POSITION_MODELS


@st.cache_data(max_entries=2, show_spinner=False)  # the spinner is in the session's language: see position_section
def position_predictions() -> tuple[dict, np.ndarray, np.ndarray, bool]:
    """The shipped results if present (instant), else a smaller live measurement."""
    res = positions.load_positions()
    shipped = res is not None
    if not shipped:
        loaded = {n: cached_model(n) for n in POSITION_NAMES}
        res = compute.run(positions.position_predictions, loaded.__getitem__, POSITION_NAMES, n=1_000)
    return {n: res[f"pred_{n}"] for n in POSITION_NAMES}, res["labels"], res["centres"], shipped


@st.cache_resource(max_entries=2, show_spinner=False)
def _position_results() -> tuple[dict, np.ndarray, np.ndarray, bool, tuple[str, ...]]:
    """position_predictions() and their key (positions_key), kept as they are for every run: no unpickled copy and
    no digest of the arrays a run (never changed: the page only reads them)."""
    preds, labels, centres, shipped = position_predictions()
    return preds, labels, centres, shipped, positions_key(preds, labels, centres)


def warm_up() -> None:
    """The shipped results, read before the first visitor asks (ui/warmup.py)."""
    _position_results()


def position_section() -> None:
    """Accuracy by where the object is, for models trained on the whole frame and on the centre only."""
    try:
        with st.spinner(t("data.position.spinner")):
            preds, labels, centres, shipped, key = _position_results()
    except models.ModelError as e:
        st.error(t("data.position.models_needed", error=words(e)))
        return
    if not shipped:
        st.warning(t("data.position.live_measurement"))
    _position_heatmap_section(preds, labels, centres, key)
    charts.chart("data.distance", key, lambda: distance_chart(preds, labels, centres), width="stretch")
    # the bands sentence quotes the model card's training budgets: its version is an input too
    bands, centre = said("position", (key, charts.version(card.MODEL_CARD)), _position_readings, preds, labels,
                         centres)
    st.info(bands)
    st.caption(centre)


def _position_readings(preds, labels, centres) -> list[Message]:
    """The sentences under the distance chart: each model's accuracy near and far, and which loses more."""
    acc = positions.centre_accuracy(preds, labels, centres)
    return [positions.bands_reading(acc, card.model_card().get("models", {})), positions.centre_reading(acc)]


def positions_key(preds, labels, centres) -> tuple[str, ...]:
    """The position results by their contents, for ui.charts: what the position charts are drawn from."""
    return tuple(charts.digest(a) for a in (labels, centres, *(preds[n] for n in POSITION_NAMES)))


@st.fragment  # the cell size changes only the heatmaps: rerun them alone
def _position_heatmap_section(preds, labels, centres, key: tuple[str, ...]) -> None:
    cell = st.select_slider(t("data.position.cell"), [4, 8, 16], value=8, key="cell",
                            help=t("data.position.cell_help"))
    grid = functools.cache(lambda: _position_grid(preds, labels, centres, cell))  # made where a chart or CSV needs it
    maps = charts.specs("data.position_maps", (*key, cell), lambda: _position_heatmaps(grid(), cell))
    with st.container(horizontal=True, gap="small"):  # a row of four at 1400 px, they wrap on a narrower screen
        for spec in maps:
            st.vega_lite_chart(spec, width="content")
    radius, middle = shapes.CENTER_RADIUS, shapes.CANVAS // 2
    st.caption(t("data.position.heatmap_caption", images=len(labels), radius=radius, lo=middle - radius,
                 hi=middle + radius, size_min=shapes.SIZE_RANGE[0], size_max=shapes.SIZE_RANGE[1],
                 min_objects=positions.MIN_OBJECTS))
    st.download_button(t("data.position.download"), lambda: grid().to_csv(index=False), "position_accuracy.csv",
                       "text/csv")


def _position_grid(preds, labels, centres, cell: int) -> pd.DataFrame:
    return pd.DataFrame(positions.position_grid({n: preds[n] for n in POSITION_NAMES}, labels, centres, cell))


FEW_OBJECTS_GREY = "#d9d9d9"  # cells with fewer than positions.MIN_OBJECTS test objects: no accuracy, no colour
# each map's side: square, its cells readable (20 px at the default 8-px cells), four maps with their axes in one row
# of a 1400-px laptop's page, one on a phone
HEATMAP_PX = 160
HEATMAP_PX_PROJECTOR = 180  # four in a row of a 1280-px projector's page, with its larger labels


def _position_heatmaps(grid: pd.DataFrame, cell: int) -> list[alt.LayerChart]:
    """One square map per model: accuracy per cell, coloured where the cell holds at least positions.MIN_OBJECTS
    test objects; grey and without an accuracy where it holds fewer. Every tooltip gives the cell's number of objects.
    Separate charts, not a facet, so that they wrap into rows on a narrow screen. The colour legend (the same 0-100 %
    scale on every map) is drawn once, under the last: beside it, it would push that map into a row of its own. The
    maps are sized by their cells: a fixed width would be the whole chart's, axes included."""
    side = HEATMAP_PX_PROJECTOR if present.is_on() else HEATMAP_PX
    step = alt.Step(side * cell / shapes.CANVAS)
    x = alt.X("x:O", title=t("data.position.x"), axis=axis())
    y = alt.Y("y:O", title=t("data.position.y"), axis=axis())
    where = [alt.Tooltip("model:N", title=t("data.chart.model")), "x", "y"]
    n = alt.Tooltip("images:Q", title=t("data.chart.images"))
    maps = []
    for name in POSITION_NAMES:
        legend = (alt.Legend(format="%", orient="bottom", direction="horizontal", gradientLength=side - 40)
                  if name == POSITION_NAMES[-1] else None)
        enough = alt.Chart().transform_filter("datum.enough").mark_rect().encode(
            x=x, y=y, color=alt.Color("accuracy:Q", scale=alt.Scale(domain=[0, 1], scheme="viridis"), legend=legend,
                                      title=t("data.chart.accuracy")),
            tooltip=[*where, alt.Tooltip("accuracy:Q", format=".1%", title=t("data.chart.accuracy")), n])
        few = alt.Chart().transform_filter("!datum.enough").transform_calculate(
            note=alt.expr.format(alt.datum.images, "d") + " < " + str(positions.MIN_OBJECTS)).mark_rect(
            color=FEW_OBJECTS_GREY).encode(
            x=x, y=y, tooltip=[*where, n, alt.Tooltip("note:N", title=t("data.position.too_few"))])
        maps.append(alt.layer(enough, few, data=grid[grid.model == name]).properties(
            width=step, height=step, title=name))
    return maps


def distance_chart(preds, labels, centres) -> alt.LayerChart:
    bands = pd.DataFrame([dict(r, model=n) for n in POSITION_NAMES
                          for r in positions.distance_accuracy(preds[n], labels, centres)])
    line = alt.Chart(bands).mark_line(point=True).encode(
        x=alt.X("distance_px:Q", title=t("data.position.distance"), axis=axis()),
        y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1]), title=t("data.chart.accuracy"), axis=axis()),
        color=alt.Color("model:N", sort=list(POSITION_NAMES), scale=colour_scale(POSITION_NAMES), title=None,
                        legend=legend_below(len(POSITION_NAMES))),
        tooltip=[alt.Tooltip("model:N", title=t("data.chart.model")),
                 alt.Tooltip("distance_px:Q", title=t("data.chart.px")),
                 alt.Tooltip("accuracy:Q", format=".1%", title=t("data.chart.accuracy")),
                 alt.Tooltip("images:Q", title=t("data.chart.images"))])
    rule = alt.Chart(pd.DataFrame({"d": [shapes.CENTER_RADIUS]})).mark_rule(strokeDash=[4, 4], color="#888").encode(
        x="d:Q")
    return rule + line


# --- how much: accuracy against training-set size ----------------------------------------------------------------------
def series_of(df: pd.DataFrame) -> list[str]:
    return [hunger_results.series_name(m, a) for m, a in zip(df.model, df.augment_px)]


def log_x(sizes, field: str = "train_size") -> alt.X:
    """A log N axis over the measured sizes (not rounded out to powers of ten), ticks at those sizes."""
    return alt.X(f"{field}:Q", scale=alt.Scale(type="log", nice=False, padding=16), title=t("data.chart.log_n"),
                 axis=axis(values=sorted(sizes), labelExpr="datum.value >= 1000 ? datum.value / 1000 + 'k' : datum.value"))


def hunger_section(hunger: pd.DataFrame | None, live_rows: list[dict], version: tuple | None) -> None:
    """How the shipped runs were made, the accuracy chart with live points, and what the data say (`version`: the
    results' version, see results())."""
    if hunger is None:
        st.info(t("data.hunger.missing"))
    else:
        method, sentences, convergence, papers, against = said("hunger", version, hunger_sentences, hunger)
        st.markdown(method)
    if hunger is not None or live_rows:
        charts.chart("data.accuracy", (version, repr(live_rows)), lambda: accuracy_chart(hunger, live_rows),
                     width="stretch")
    if hunger is None:
        return
    st.caption(t("data.hunger.caption"))
    st.info(sentences)
    st.caption(convergence)
    st.markdown(papers + "\n\n" + against)
    st.download_button(t("data.hunger.download"), lambda: hunger.to_csv(index=False), "data_hunger.csv", "text/csv")


def hunger_sentences(rows: pd.DataFrame) -> list[Message]:
    """The section's sentences: how the runs were made, what they say, how many converged, and the papers'
    results beside them."""
    planned = len(hr.grid_of(rows.command.iloc[0]).cells(tuple(sorted(set(rows.model)))))
    return [hr.method(rows),
            listing([m for m in (hr.reading(rows), hr.augmentation_effect(rows), hr.spread_reading(rows)) if m],
                    "sentences"),
            hr.convergence_note(rows, planned=planned), hr.PAPERS, hr.against_the_papers(rows)]


def vit_learning_section(hunger: pd.DataFrame, version: tuple) -> None:
    """Mean attention distance per layer and position-embedding locality of every ViT run, against N."""
    st.markdown(t("data.vit_learning.intro", probe=hu.PROBE_SIZE))
    key = (version,)
    panels = charts.specs("data.attention_distance", key, lambda: attentiondistance_charts(hunger))
    for column, panel in zip(st.columns(len(panels)), panels):  # side by side at 1400 px, stacked on a phone
        column.vega_lite_chart(panel, width="stretch")
    charts.chart("data.locality", key, lambda: locality_chart(hunger), width="stretch")
    st.info(*said("vit_learning", version, lambda rows: [hr.vit_learning_reading(rows, grid_vit_uniform())], hunger))


def accuracy_chart(shipped: pd.DataFrame | None, live_rows: list[dict]) -> alt.LayerChart:
    """Test accuracy (solid, ±1 std over seeds) and training accuracy (dashed) against N, one colour per series;
    live runs as hollow diamonds."""
    frames = []
    if shipped is not None:
        done = shipped.assign(series=series_of(shipped),
                              run=[t("data.chart.converged") if hunger_results.is_converged(r) else
                                   t("data.chart.capped") for r in shipped.to_dict("records")])
        frames.append(done.melt(id_vars=["series", "train_size", "seed", "run"], value_vars=list(METRICS),
                                var_name="metric", value_name="accuracy"))
    live = pd.DataFrame(live_rows)
    sizes = set(frames[0].train_size) if frames else set()
    sizes |= set(live.train_size) if len(live) else set()
    x = log_x(sizes)
    metrics = _metric_labels()
    accuracy = t("data.chart.accuracy")
    colour = alt.Color("label:N", title=None, scale=series_scale(list(SERIES_COLOURS)), legend=legend_below())
    series = alt.Tooltip("label:N", title=t("data.chart.series"))
    n = alt.Tooltip("train_size:Q", format=",d", title="N")
    y = alt.Y("mean(accuracy):Q", title=accuracy, scale=alt.Scale(domain=[0, 1]), axis=axis(format="%"))
    layers = []
    if frames:
        data = frames[0].assign(metric=lambda d: d.metric.map(metrics), label=lambda d: d.series.map(series_text))
        ok = data[data.run == t("data.chart.converged")]
        base = alt.Chart(ok)  # lines, means and bars: converged runs only
        dash = alt.StrokeDash("metric:N", title=None, sort=list(metrics.values()),
                              scale=alt.Scale(domain=list(metrics.values()), range=[[1, 0], [5, 4]]),
                              legend=None)  # the caption says it: Streamlit's theme draws no stroke symbols
        layers += [
            base.mark_line(point=True).encode(
                x=x, y=y, color=colour, strokeDash=dash, detail="metric:N",
                tooltip=[series, alt.Tooltip("metric:N", title=t("data.chart.metric")), n,
                         alt.Tooltip("mean(accuracy):Q", format=".1%", title=t("data.chart.mean")),
                         alt.Tooltip("stdev(accuracy):Q", format=".1%", title=t("data.chart.std")),
                         alt.Tooltip("count():Q", title=t("data.chart.seeds"))]),
            base.transform_filter(alt.datum.metric == metrics["test_accuracy"]).mark_errorbar(
                extent="stdev", ticks=True).encode(x=x, y=alt.Y("accuracy:Q", title=accuracy), color=colour),
        ]
        capped = data[(data.run == t("data.chart.capped")) & (data.metric == metrics["test_accuracy"])]
        if len(capped):  # a lower bound: a hollow circle, on no line
            layers.append(alt.Chart(capped).mark_point(shape="circle", filled=False, size=90, strokeWidth=2).encode(
                x=x, y=alt.Y("accuracy:Q", title=accuracy), color=colour,
                tooltip=[series, n, alt.Tooltip("run:N", title=t("data.chart.run")),
                         alt.Tooltip("accuracy:Q", format=".1%", title=t("data.chart.test"))]))
    if len(live):
        live = live.assign(series=series_of(live), source=live["steps"].map(
            lambda s: t("data.chart.live_source", steps=s)))
        live = live.assign(label=live.series.map(series_text))
        layers.append(alt.Chart(live).mark_point(shape="diamond", filled=False, size=140, strokeWidth=2).encode(
            x=x, y=alt.Y("test_accuracy:Q", title=accuracy), color=colour,
            tooltip=[series, alt.Tooltip("source:N", title=t("data.chart.source")), n,
                     alt.Tooltip("test_accuracy:Q", format=".1%", title=t("data.chart.test")),
                     alt.Tooltip("train_accuracy:Q", format=".1%", title=t("data.chart.training")),
                     alt.Tooltip("seconds:Q", title=t("data.chart.seconds"))]))
    return alt.layer(*layers).properties(height=panel_height(PANEL_HEIGHT + 60))


def attentiondistance_charts(shipped: pd.DataFrame) -> list[alt.LayerChart]:
    """Mean attention distance of every layer against N (mean over seeds, converged runs), one chart per ViT series,
    each with the uniform-attention baseline (its own layer with its own data: a facet could not share it)."""
    shipped = hunger_results.converged(shipped)
    vit = shipped[shipped.model == "vit"]
    cols = hr.mad_columns(vit)
    data = vit.assign(series=series_of(vit)).melt(id_vars=["series", "train_size"], value_vars=cols, var_name="layer",
                                                value_name="distance")
    data["layer"] = data.layer.str.rsplit("_", n=1).str[1].astype(int)
    data["label"] = data.series.map(series_text)
    uniform = grid_vit_uniform()
    x = log_x(set(vit.train_size))
    lines = alt.Chart().mark_line(point=True).encode(
        x=x, y=alt.Y("mean(distance):Q", title=t("data.chart.px"), axis=axis()),
        color=alt.Color("layer:O", scale=alt.Scale(scheme="viridis"), title=t("data.chart.layer"),
                        legend=alt.Legend(orient="bottom", direction="horizontal")),
        tooltip=[alt.Tooltip("label:N", title=t("data.chart.series")),
                 alt.Tooltip("layer:O", title=t("data.chart.layer")),
                 alt.Tooltip("train_size:Q", format=",d", title="N"),
                 alt.Tooltip("mean(distance):Q", format=".1f", title=t("data.chart.px"))])
    rule = alt.Chart(pd.DataFrame({"d": [uniform], "label": [t("data.chart.uniform", px=uniform)]}))
    base_line = rule.mark_rule(strokeDash=[4, 4], color="#555").encode(y="d:Q")
    base_text = rule.mark_text(align="left", dx=4, dy=-6, color="#333", fontSize=text_size()).encode(
        y="d:Q", text="label:N", x=alt.value(0))
    return [alt.layer(lines.properties(data=data[data.series == series]), base_line, base_text).properties(
        title=panel_title(series_text(series), t("data.chart.distance")), height=panel_height())
        for series in sorted(data.series.unique())]


def locality_chart(shipped: pd.DataFrame) -> alt.LayerChart:
    """Position-embedding locality against N (converged ViT runs): of the trained embedding (solid) and of what
    training added to its random start (dashed, where measured)."""
    shipped = hunger_results.converged(shipped)
    vit = shipped[shipped.model == "vit"]
    kinds = {"pos_embed_locality": t("data.chart.locality_trained"),
             "pos_embed_learnt_locality": t("data.chart.locality_learnt")}
    cols = [c for c in kinds if c in vit.columns and vit[c].notna().any()]
    data = vit.assign(series=series_of(vit)).melt(id_vars=["series", "train_size"], value_vars=cols, var_name="kind",
                                                value_name="locality")
    data["label"] = data.series.map(series_text)
    data["kind"] = data.kind.map(kinds)
    shown = [s for s in SERIES_COLOURS if s in set(data.series)]
    colour = alt.Color("label:N", title=None, scale=series_scale(shown), legend=legend_below(1))
    dash = alt.StrokeDash("kind:N", title=None, sort=[kinds[c] for c in cols], legend=legend_below(1),
                          scale=alt.Scale(domain=[kinds[c] for c in cols], range=[[1, 0], [5, 4]][:len(cols)]))
    # lines and points apart: the dash legend then draws line samples (a line with points shows only dots)
    base = alt.Chart(data).encode(
        x=log_x(set(vit.train_size)),
        y=alt.Y("mean(locality):Q", title=t("data.chart.locality"), axis=axis()),
        color=colour, detail="kind:N",
        tooltip=[alt.Tooltip("label:N", title=t("data.chart.series")), alt.Tooltip("kind:N", title=t("data.chart.metric")),
                 alt.Tooltip("train_size:Q", format=",d", title="N"),
                 alt.Tooltip("mean(locality):Q", format=".2f", title=t("data.chart.locality_short"))])
    zero = alt.Chart(pd.DataFrame({"y": [0]})).mark_rule(strokeDash=[4, 4], color="#555").encode(y="y:Q")
    return alt.layer(zero, base.mark_line().encode(strokeDash=dash), base.mark_point(filled=True)).properties(
        height=panel_height())


# --- is it this CNN? the grid's variants beside the shipped series --------------------------------------------------
VARIANT_COLOURS = {"cnn": models.EMBEDDED["cnn"].colour, "vit": models.EMBEDDED["vit"].colour,
                   "cnn-cifar": "#17becf", "cnn-circular": "#9edae5", "cnn-s2": "#7f7f7f", "vit-convstem": "#ff9896"}


def variant_architectures() -> pd.DataFrame:
    """Each grid model's parameters, FLOPs per image and last map."""
    return pd.DataFrame([dict(grid_architectures()["models"][m], model=m) for m in VARIANT_COLOURS])


def variants_charts(points: pd.DataFrame, models: list[str], colours: list[str]) -> list[alt.LayerChart]:
    """Test accuracy as bars, one chart per training-set size (in order of N), each model in its colour: the variants
    beside the shipped series (bars, not lines: most sizes hold a few models). Each chart takes its container's width,
    so they sit side by side on a laptop and stack on a phone."""
    base = alt.Chart().encode(
        y=alt.Y("model:N", title=None, sort=models, axis=axis(labelLimit=220)),
        # to 110 %: room for the value printed after a bar at 100 %. The axis title ends where the axis ends: centred
        # under a plot narrower than itself it ran past the chart's right edge and was cut
        x=alt.X("accuracy:Q", title=t("data.variants.chart_title"), scale=alt.Scale(domain=[0, 1.1]),
                axis=axis(format="%", values=[0, 0.25, 0.5, 0.75, 1], titleAnchor="end")),
        tooltip=[alt.Tooltip("model:N", title=t("data.variants.col_model")), alt.Tooltip("N:N", title="N"),
                 alt.Tooltip("accuracy:Q", format=".1%", title=t("data.chart.test"))])
    bars = base.mark_bar().encode(color=alt.Color("model:N", legend=None,
                                                  scale=alt.Scale(domain=models, range=colours)))
    text = base.mark_text(align="left", dx=4, fontSize=text_size()).encode(text=alt.Text("accuracy:Q", format=".0%"))
    bar_step = alt.Step(round(20 * present.scale()))  # a bar per label line, labels at the projector's size too
    return [alt.layer(bars, text, data=points[points.n == n]).properties(title=points[points.n == n].N.iloc[0],
                                                                         height=bar_step)
            for n in sorted(set(points.n))]


def variants_section(hunger: pd.DataFrame, version: tuple) -> None:
    """The variants' accuracy beside the shipped CNN and ViT, what each changes and costs, and the reading."""
    st.markdown(t("data.variants.intro"))
    acc, verdict = reading("variants", version, lambda rows: (vr.accuracy(rows), vr.reading(rows, planned=len(
        [c for c in hr.grid_of(rows.command.iloc[0]).cells() if c[0] in hu.VARIANTS]))), hunger)
    if verdict is None:
        st.info(t("data.variants.missing"))
        return
    names = {m: t(f"data.variants.name.{m}") for m in VARIANT_COLOURS}
    shown = [m for m in VARIANT_COLOURS if m in acc]
    panels = charts.specs("data.variants", (version,), lambda: variants_charts(pd.DataFrame(
        [{"model": names[m], "N": f"N = {wording.fmt_n(n)}", "n": n, "accuracy": a}
         for m, curve in acc.items() if m in names for n, a in curve.items()]),
        [names[m] for m in shown], [VARIANT_COLOURS[m] for m in shown]))
    for column, panel in zip(st.columns(len(panels)), panels):
        column.vega_lite_chart(panel, width="stretch")
    st.info(words(verdict))
    st.markdown("\n".join("- " + t("data.variants.what_item", model=names[m], what=t(f"data.variants.what.{m}"))
                           for m in shown))

    def minutes() -> pd.Series:  # minutes per run at the sizes a variant ran
        plain, sizes = vr.plain_rows(hunger), {n for curve in acc.values() for n in curve}
        return (plain[plain.train_size.isin(sizes)].groupby("model").seconds.mean() / 60).round(0)

    arch = lambda: variant_architectures().set_index("model")  # noqa: E731  (read where a table is made)
    model = {t("data.variants.col_model"): [names[m] for m in shown]}
    # two tables, each led by the model, that wrap their cells: side by side on a laptop, one under the other and
    # inside a 390-px phone's width (one five-column table scrolled sideways there)
    size, shape = st.columns(2, gap="medium")
    with size:
        charts.table("data.variants_size", (version,), lambda: pd.DataFrame({
            **model,
            t("data.variants.col_parameters"): [f"{arch().loc[m, 'parameters']:,}" for m in shown],
            t("data.variants.col_flops"): [f"{arch().loc[m, 'flops_per_image'] / 1e6:.0f}" for m in shown]}),
            hide_index=True)
    with shape:
        charts.table("data.variants_shape", (version,), lambda: pd.DataFrame({
            **model,
            t("data.variants.col_map"): [f"{arch().loc[m, 'last_map']}×{arch().loc[m, 'last_map']}" for m in shown],
            t("data.variants.col_minutes"): [f"{minutes().get(m, float('nan')):.0f}" for m in shown]}),
            hide_index=True)


# --- the live run ------------------------------------------------------------------------------------------------
@st.cache_resource
def _live_slot() -> threading.BoundedSemaphore:
    # one live training run at a time on the whole server: forty students pressing "Train" at once would
    # otherwise starve every other session of CPU
    return threading.BoundedSemaphore(1)


@st.cache_resource(show_spinner=False)  # the spinner is in the session's language: see _train_next
def _live_test_set():
    return hu.test_set()


@st.cache_resource
def _live_rates() -> dict:
    """This server's live-run cost rates (hu.LIVE_RATES until a live run has measured its own)."""
    return copy.deepcopy(hu.LIVE_RATES)


def live_controls() -> None:
    """Pick a few N, models and a step budget; train them one after another with a progress bar and Cancel.

    Each finished run is stored in session state and the page reruns, so its point appears on the chart above
    while the next run trains. Cancel (or any other widget) interrupts the running script at its next progress
    update; Cancel also empties the queue.
    """
    live = st.session_state.setdefault(LIVE, {"rows": [], "queue": []})
    busy = bool(live["queue"])
    c1, c2, c3 = st.columns([2, 2, 2])
    sizes = c1.multiselect(t("data.live.sizes"), LIVE_SIZES, default=[250, 2_000], key="live_sizes", disabled=busy,
                           format_func=lambda n: f"{n:,}")
    picked = c2.multiselect(t("data.live.models"), list(hu.ARCHS), default=list(hu.ARCHS), key="live_models",
                            disabled=busy)
    steps = c3.select_slider(t("data.live.steps"), LIVE_STEPS, value=100, key="live_steps", disabled=busy,
                             help=t("data.live.steps_help"))
    runs = [(m, n, steps) for n in sorted(sizes) for m in picked]
    b1, b2, b3 = st.columns([1, 1, 3])
    if b1.button(t("data.live.train"), type="primary", disabled=busy or not runs, key="live_train"):
        live["queue"] = runs
        st.session_state[LIVE_OPEN] = True
        busy = True
    if busy and b2.button(t("data.live.cancel"), key="live_cancel"):
        live["queue"] = []
        st.rerun()
    if live["rows"] and not busy and b2.button(t("data.live.clear"), key="live_clear"):
        live["rows"] = []
        st.rerun()
    estimate = hu.live_seconds(live["queue"] if busy else runs, _live_rates())
    b3.caption(t("data.live.estimate", runs=len(live["queue"] if busy else runs), duration=_duration(estimate)))
    if not busy:
        return
    slot = _live_slot()
    if not slot.acquire(blocking=False):
        waiting = st.empty()
        waited = 0
        while not slot.acquire(timeout=1.0):
            waited += 1
            # writing to the page is also where Streamlit interrupts a script, so Cancel works while waiting
            waiting.warning(t("data.live.waiting", waited=waited))
        waiting.empty()
    try:
        _train_next(live)
    finally:
        slot.release()
    st.rerun()  # draw the new point; the rerun trains the next queued run


def _duration(seconds: float) -> str:
    return t("data.live.seconds", seconds=seconds) if seconds < 90 else t("data.live.minutes", minutes=seconds / 60)


def _train_next(live: dict) -> None:
    model, n, steps = live["queue"][0]
    done = len(live["rows"])
    label = t("data.live.training", model=model, n=n, left=len(live["queue"]))
    bar = st.progress(0.0, text=label + t("data.live.rendering"))
    last = [0.0]

    def progress(step, total_steps, loss):
        now = time.perf_counter()
        if now - last[0] > 0.25 or step == total_steps:  # ~4 updates a second is smooth and cheap
            last[0] = now
            bar.progress(step / total_steps, text=label + t("data.live.step", step=step, steps=total_steps, loss=loss))

    with st.spinner(t("data.live.rendering_test")):
        test = _live_test_set()
    row = hu.live_run(model, n, steps, test=test, progress=progress)
    hu.learn_rates(_live_rates(), row, len(test[0]))
    if len(live["rows"]) == done and live["queue"][:1] == [(model, n, steps)]:  # not cancelled meanwhile
        live["rows"].append(row)
        live["queue"].pop(0)
