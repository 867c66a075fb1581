"""The data page's transfer sections: what every data-hunger run's frozen features are worth on five new shapes
(k-shot linear probes, the ViT paper's Fig. 4 at lab scale), and pre-train large / fine-tune small."""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from core import shapes
from core.experiments import hunger_reading as hr
from core.experiments import hunger_results
from core.experiments import pretraining_reading as pr
from core.experiments import transfer
from core.messages import listing, say
from ui import charts
from ui.data_views import (SERIES_COLOURS, axis, legend_below, log_x, panel_height, panel_title, said, series_of,
                           series_scale, series_text)
from ui.i18n import t, words


# --- k-shot probes from every checkpoint ---------------------------------------------------------------------------
def transfer_section(hunger: pd.DataFrame, embedded: pd.DataFrame | None, versions: tuple) -> None:
    """`versions`: the two results files' (ui.data_views.results)."""
    st.markdown(t("data.transfer.intro", targets=words(listing(say(f"shape.{c}") for c in shapes.TARGET_CLASSES)),
                  draws=transfer.DRAWS, query=transfer.QUERY_SIZE))
    side_by_side(charts.specs("data.transfer", versions, lambda: transfer_charts(hunger, embedded)))
    st.caption(t("data.transfer.caption"))
    if reading := said("transfer", versions, lambda *rows: [hr.transfer_reading(*rows)], hunger, embedded)[0]:
        st.info(reading)
    st.markdown(t("data.transfer.papers"))


def side_by_side(specs: list[dict]) -> None:
    """Charts (ui.charts specs) in equal columns, each its column's width: side by side on a laptop, stacked on a
    phone."""
    for column, spec in zip(st.columns(len(specs)), specs):
        column.vega_lite_chart(spec, width="stretch")


def transfer_charts(hunger: pd.DataFrame, embedded: pd.DataFrame | None) -> list[alt.LayerChart]:
    """k-shot accuracy on the new shapes against N (converged runs), a chart per k, a colour per series; the
    embedded models as filled squares at their 60k images."""
    runs = hunger_results.converged(hunger)
    panels = []
    sizes = set(runs.train_size) | (set(embedded.train_size) if embedded is not None else set())
    x = log_x(sizes)
    present_series = [s for s in SERIES_COLOURS if s in set(series_of(runs))]
    colour = alt.Color("label:N", title=None, scale=series_scale(present_series), legend=legend_below())
    for k in transfer.SHOTS:
        column = f"transfer_{k}shot"
        title = t("data.transfer.axis", shots=k)
        data = runs.assign(label=[series_text(s) for s in series_of(runs)])
        # the y title short (the chart's subtitle says what it measures): a plot shorter than its axis title
        # collapses on a phone
        y = alt.Y(f"mean({column}):Q", title=t("data.chart.accuracy"), scale=alt.Scale(domain=[0, 1]),
                  axis=axis(format="%"))
        layers = [alt.Chart(data).mark_line(point=True).encode(
            x=x, y=y, color=colour,
            tooltip=[alt.Tooltip("label:N", title=t("data.chart.series")), alt.Tooltip("train_size:Q", format=",d", title="N"),
                     alt.Tooltip(f"mean({column}):Q", format=".1%", title=title)])]
        if embedded is not None and column in embedded.columns:
            e = embedded.assign(label=[series_text(m) for m in embedded.model], what=t("data.transfer.embedded_label"))
            layers.append(alt.Chart(e).mark_point(shape="square", filled=True, size=120).encode(
                x=x, y=alt.Y(f"{column}:Q", title=t("data.chart.accuracy")), color=colour,
                tooltip=[alt.Tooltip("label:N", title=t("data.chart.series")), alt.Tooltip("what:N", title=t("data.chart.source")),
                         alt.Tooltip("train_size:Q", format=",d", title="N"),
                         alt.Tooltip(f"{column}:Q", format=".1%", title=title)]))
        chance = alt.Chart(pd.DataFrame({"y": [1 / len(shapes.TARGET_CLASSES)]})).mark_rule(
            strokeDash=[4, 4], color="#555").encode(y="y:Q")
        panels.append(alt.layer(chance, *layers).properties(
            title=panel_title(t("data.transfer.shots_label", shots=k), title), height=panel_height()))
    return panels


# --- pre-train large, fine-tune small --------------------------------------------------------------------------------
def pretraining_section(rows: pd.DataFrame, infos: dict[str, dict], version: tuple) -> None:
    """How the transfer runs were made, target accuracy against N for the three starts, and what the data say
    (`version`: the results file's and the checkpoints' notes', ui.data_views.results)."""
    method, reading = said("pretraining", version, lambda r, i: [pr.method(r, i), listing(
        [m for m in (*pr.reading(r), pr.source_note(i)) if m], "sentences")], rows, infos)
    st.markdown(method)
    side_by_side(charts.specs("data.pretraining", (version,), lambda: pretraining_charts(rows)))
    st.info(reading)
    st.download_button(t("data.pretraining.download"), lambda: rows.to_csv(index=False), "pretraining.csv", "text/csv")


def pretraining_charts(rows: pd.DataFrame) -> list[alt.Chart]:
    """Mean test accuracy over seeds (converged runs) against N, one chart per architecture, one colour per way to
    start."""
    df = hunger_results.converged(rows).groupby(["model", "init", "target_size"], as_index=False)["test_accuracy"].mean()
    inits = ["scratch", "finetune", "linear"]
    labels = {i: t(f"data.pretraining.init.{i}") for i in inits}
    df = df.assign(start=df["init"].map(labels))
    chart = alt.Chart().mark_line(point=True).encode(
        x=log_x(df["target_size"].unique(), "target_size"),
        y=alt.Y("test_accuracy:Q", scale=alt.Scale(domain=[0, 1]), axis=axis(format="%"),
                title=t("data.chart.accuracy")),
        color=alt.Color("start:N", title=t("data.pretraining.legend"), sort=[labels[i] for i in inits],
                        scale=alt.Scale(domain=[labels[i] for i in inits], range=["#7f7f7f", "#2ca02c", "#9467bd"]),
                        legend=legend_below(2, titleOrient="left")),
        tooltip=[alt.Tooltip("start:N", title=t("data.pretraining.legend")),
                 alt.Tooltip("target_size:Q", title="N"),
                 alt.Tooltip("test_accuracy:Q", format=".1%", title=t("data.pretraining.axis_accuracy"))])
    return [chart.properties(data=df[df.model == m], height=panel_height(),
                             title=panel_title(m, t("data.pretraining.axis_accuracy")))
            for m in sorted(df.model.unique())]
