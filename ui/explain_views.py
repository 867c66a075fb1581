"""The explanations page: one image and one class, a CNN's and a ViT's maps side by side, each with its
faithfulness (the numbers come from core.explain)."""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
import torch

from core import explain as ex
from core import pictures as pic
from ui import bookmarks, compute, png, present, table_height
from ui.i18n import name_of, t, worded, words
from ui.models import cached_model

TOP = "top"  # the class option "each model's own top class"
DEFAULTS = {"image": "star and cross (64×64)", "cnn": "cnn", "vit": "vit", "class": TOP}
SHOWN_PX = 200  # each map on screen


@st.cache_data(max_entries=32, ttl="30m", show_spinner=False)  # a few hundred kB an entry
def explanation(model_name: str, img: np.ndarray, class_name: str) -> ex.Explanation:
    lm = cached_model(model_name)
    cls = None if class_name == TOP else lm.class_names.index(class_name)
    return compute.run(ex.explain, lm, torch.from_numpy(img), cls)


def warm_up() -> None:
    """The default view, computed before the first visitor asks (ui/warmup.py)."""
    from ui.images import sample

    img = sample(DEFAULTS["image"]).numpy()
    for name in (DEFAULTS["cnn"], DEFAULTS["vit"]):
        explanation(name, img, DEFAULTS["class"])


def class_picker(models) -> str:
    """One class for both models: their top class each (default), or any class both of them know."""
    known = [c for c in models[0].class_names if all(c in m.class_names for m in models[1:])]
    options = [TOP] + known
    choice = st.selectbox(t("explain.class"), options, index=bookmarks.index_in("class", options, DEFAULTS["class"]),
                          key="ex-class", format_func=worded(options, lambda c: t("explain.top_class") if c == TOP
                                                             else name_of("shape", c)), help=None if known else t("explain.no_common_class"))
    st.query_params["class"] = choice
    return choice


def model_column(lm, img: np.ndarray, e: ex.Explanation) -> None:
    """The model's answer for the class, then each map over the image with its two faithfulness areas."""
    cls = lm.class_names[e.class_idx]
    st.markdown(t("explain.explains", model=lm.name, cls=name_of("shape", cls), p=float(e.probs[e.class_idx])))
    seen = lm.seen(torch.from_numpy(img))
    methods = list(e.maps)
    for row in range(0, len(methods), 2):  # two maps a row; labels as text, which projector mode keeps
        for col, method in zip(st.columns(2, gap="small"), methods[row:row + 2]):
            rgb = pic.to_uint8(pic.overlay(seen, torch.from_numpy(e.maps[method])).numpy())
            col.image(png(pic.upscale(rgb, max(1, SHOWN_PX // rgb.shape[0]))), width="stretch")
            f, (h, w) = e.faithfulness[method], e.native[method].shape
            col.markdown(t("explain.map_caption", method=t(f"explain.method.{method}"), rows=h, cols=w,
                           deletion=f.deletion_auc, insertion=f.insertion_auc))


def curves_frame(explanations: list[ex.Explanation]) -> pd.DataFrame:
    """One row per point of every curve, in the session's language."""
    curves = {"deletion": t("explain.curve.deletion"), "insertion": t("explain.curve.insertion")}
    rows = []
    for e in explanations:
        for method, f in e.faithfulness.items():
            label = t(f"explain.method.{method}")
            for curve, shown in curves.items():
                rows += [{"model": e.model, "method": label, "curve": shown, "fraction": x, "probability": float(p)}
                         for x, p in zip(f.fractions, getattr(f, curve))]
    return pd.DataFrame(rows)


def curves_chart(df: pd.DataFrame) -> alt.FacetChart:
    """Small multiples: one row per model, deletion beside insertion, one colour per kind of map."""
    methods = list(dict.fromkeys(df["method"]))
    return alt.Chart(df).mark_line(point=alt.OverlayMarkDef(size=16)).encode(
        x=alt.X("fraction:Q", axis=alt.Axis(format="%"), title=t("explain.axis.fraction")),
        y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1]), title=t("explain.axis.probability")),
        color=alt.Color("method:N", title=t("explain.legend.map"), sort=methods,
                        scale=alt.Scale(domain=methods, scheme="dark2"), legend=alt.Legend(orient="right")),
        tooltip=[alt.Tooltip("model:N", title=t("explain.col.model")),
                 alt.Tooltip("method:N", title=t("explain.legend.map")),
                 alt.Tooltip("fraction:Q", format=".0%", title=t("explain.axis.fraction")),
                 alt.Tooltip("probability:Q", format=".3f", title=t("explain.axis.probability"))],
    ).properties(width=300, height=150).facet(
        column=alt.Column("curve:N", title=None, sort=[t("explain.curve.deletion"), t("explain.curve.insertion")],
                          header=alt.Header(labelFontSize=13, labelFontWeight="bold")),
        row=alt.Row("model:N", title=None, header=alt.Header(labelFontSize=13, labelFontWeight="bold")))


def scores_frame(explanations: list[ex.Explanation]) -> pd.DataFrame:
    rows = [{t("explain.col.model"): e.model, t("explain.col.method"): t(f"explain.method.{m}"),
             t("explain.col.resolution"): "{}×{}".format(*e.native[m].shape),
             t("explain.col.deletion"): round(f.deletion_auc, 3), t("explain.col.insertion"): round(f.insertion_auc, 3),
             t("explain.col.score"): round(ex.score(f), 3)}
            for e in explanations for m, f in e.faithfulness.items()]
    return pd.DataFrame(rows).sort_values(t("explain.col.score"), ascending=False)


def faithfulness_section(explanations: list[ex.Explanation]) -> None:
    st.subheader(t("explain.faith_title"))
    st.markdown(t("explain.faith_intro"))
    present.chart(curves_chart(curves_frame(explanations)))
    st.info("  \n".join(words(m) for m in ex.reading(explanations)))
    table = scores_frame(explanations)
    st.dataframe(table, hide_index=True, height=table_height(len(table)))
