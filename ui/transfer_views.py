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
from ui import present
from ui.data_views import SERIES_COLOURS, log_x, series_of, series_scale, series_text
from ui.i18n import t, words


# --- k-shot probes from every checkpoint ---------------------------------------------------------------------------
def transfer_section(hunger: pd.DataFrame, embedded: pd.DataFrame | None) -> None:
    st.markdown(t("data.transfer.intro", targets=words(listing(say(f"shape.{c}") for c in shapes.TARGET_CLASSES)),
                  draws=transfer.DRAWS, query=transfer.QUERY_SIZE))
    present.chart(transfer_chart(hunger, embedded))
    st.caption(t("data.transfer.caption"))
    reading = hr.transfer_reading(hunger, embedded)
    if reading is not None:
        st.info(words(reading))
    st.markdown(t("data.transfer.papers"))


def transfer_chart(hunger: pd.DataFrame, embedded: pd.DataFrame | None) -> alt.HConcatChart:
    """k-shot accuracy on the new shapes against N (converged runs), a panel per k, a colour per series; the
    embedded models as filled squares at their 60k images."""
    runs = hunger_results.converged(hunger)
    panels = []
    sizes = set(runs.train_size) | (set(embedded.train_size) if embedded is not None else set())
    x = log_x(sizes)
    present_series = [s for s in SERIES_COLOURS if s in set(series_of(runs))]
    colour = alt.Color("label:N", title=None, scale=series_scale(present_series))
    for k in transfer.SHOTS:
        column = f"transfer_{k}shot"
        title = t("data.transfer.axis", shots=k)
        data = runs.assign(label=[series_text(s) for s in series_of(runs)])
        y = alt.Y(f"mean({column}):Q", title=title, scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"))
        layers = [alt.Chart(data).mark_line(point=True).encode(
            x=x, y=y, color=colour,
            tooltip=[alt.Tooltip("label:N", title=t("data.chart.series")), alt.Tooltip("train_size:Q", format=",d", title="N"),
                     alt.Tooltip(f"mean({column}):Q", format=".1%", title=title)])]
        if embedded is not None and column in embedded.columns:
            e = embedded.assign(label=[series_text(m) for m in embedded.model], what=t("data.transfer.embedded_label"))
            layers.append(alt.Chart(e).mark_point(shape="square", filled=True, size=120).encode(
                x=x, y=alt.Y(f"{column}:Q", title=title), color=colour,
                tooltip=[alt.Tooltip("label:N", title=t("data.chart.series")), alt.Tooltip("what:N", title=t("data.chart.source")),
                         alt.Tooltip("train_size:Q", format=",d", title="N"),
                         alt.Tooltip(f"{column}:Q", format=".1%", title=title)]))
        chance = alt.Chart(pd.DataFrame({"y": [1 / len(shapes.TARGET_CLASSES)]})).mark_rule(
            strokeDash=[4, 4], color="#555").encode(y="y:Q")
        panels.append(alt.layer(chance, *layers).properties(title=t("data.transfer.shots_label", shots=k), width=320,
                                                           height=240))
    return alt.hconcat(*panels)


# --- pre-train large, fine-tune small --------------------------------------------------------------------------------
def pretraining_section(rows: pd.DataFrame, infos: dict[str, dict]) -> None:
    """How the transfer runs were made, target accuracy against N for the three starts, and what the data say."""
    st.markdown(words(pr.method(rows, infos)))
    present.chart(pretraining_chart(rows), width="stretch")
    st.info(words(listing([m for m in (*pr.reading(rows), pr.source_note(infos)) if m], "sentences")))
    st.download_button(t("data.pretraining.download"), rows.to_csv(index=False), "pretraining.csv", "text/csv")


def pretraining_chart(rows: pd.DataFrame) -> alt.FacetChart:
    """Mean test accuracy over seeds (converged runs) against N, one panel per architecture, one colour per way to
    start."""
    df = hunger_results.converged(rows).groupby(["model", "init", "target_size"], as_index=False)["test_accuracy"].mean()
    inits = ["scratch", "finetune", "linear"]
    labels = {i: t(f"data.pretraining.init.{i}") for i in inits}
    df = df.assign(start=df["init"].map(labels))
    return alt.Chart(df).mark_line(point=True).encode(
        x=log_x(df["target_size"].unique(), "target_size"),
        y=alt.Y("test_accuracy:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"),
                title=t("data.pretraining.axis_accuracy")),
        color=alt.Color("start:N", title=t("data.pretraining.legend"), sort=[labels[i] for i in inits],
                        scale=alt.Scale(domain=[labels[i] for i in inits], range=["#7f7f7f", "#2ca02c", "#9467bd"])),
        tooltip=[alt.Tooltip("start:N", title=t("data.pretraining.legend")),
                 alt.Tooltip("target_size:Q", title="N"),
                 alt.Tooltip("test_accuracy:Q", format=".1%", title=t("data.pretraining.axis_accuracy"))],
    ).properties(width=300, height=220).facet(column=alt.Column("model:N", title=None,
                                                                header=alt.Header(labelFontSize=13,
                                                                                  labelFontWeight="bold")))
