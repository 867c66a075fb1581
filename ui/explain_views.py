"""The explanations page: one image and one class, a CNN's and a ViT's maps side by side, each with its
faithfulness on one common grid (the numbers and the sentences come from core.explain and core.faithfulness)."""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
import torch

from core import explain as ex
from core import faithfulness
from core import pictures as pic
from ui import bookmarks, charts, compute, present
from ui.i18n import current, name_of, t, worded, words
from ui.images import sample
from ui.models import cached_model

TOP = "top"  # the class option "each model's own top class"
DEFAULTS = {"image": "one star (64×64)", "cnn": "cnn", "vit": "vit", "class": TOP}
SHOWN_PX = 200  # each map on screen
CURVE_PX = 240  # height of each small chart of curves, axes and title included
METHOD_COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02")  # Dark2, one per kind of map
MAPS = "ex_maps"  # the containers of each row of two maps
SCORES = "ex_scores"  # the container of the scores table
# a phone keeps each row's two maps side by side (Streamlit would stack them, one 358-px map a screen), and the
# scores table's seven columns closer together, so that it fits the phone's width; the scores table's four columns of
# numbers (written as strings, see scores_frame) stay aligned right, as st.table aligns numbers
PHONE_CSS = f"""<style>
[class*="st-key-{MAPS}"] [data-testid="stHorizontalBlock"] {{ flex-wrap: nowrap !important; }}
[class*="st-key-{MAPS}"] [data-testid="stColumn"] {{ min-width: 0 !important; }}
.st-key-{SCORES} td:nth-child(n+4) {{ text-align: right !important; }}
{present.PHONE} {{ .st-key-{SCORES} th, .st-key-{SCORES} td {{ padding: 0.25rem 0.2rem !important; }} }}
</style>"""


@st.cache_data(max_entries=32, ttl="30m", show_spinner=False)  # a few hundred kB an entry
def explanation(model_name: str, img: np.ndarray, class_name: str) -> ex.Explanation:
    lm = cached_model(model_name)
    cls = None if class_name == TOP else lm.class_names.index(class_name)
    return compute.run(ex.explain, lm, torch.from_numpy(img), cls)


@st.cache_data(max_entries=32, ttl="30m", show_spinner=False)
def measured_faithfulness(model_name: str, img: np.ndarray, class_name: str,
                          grid: tuple[int, int]) -> dict[str, faithfulness.Faithfulness]:
    """Every map of `explanation(...)` scored on `grid` (the pair's common grid)."""
    e = explanation(model_name, img, class_name)
    return compute.run(faithfulness.measure, cached_model(model_name), torch.from_numpy(img), e.class_idx, e.native,
                       grid)


def explained(model_name: str, img: np.ndarray, image: str, class_name: str) -> ex.Explanation:
    """explanation(...), kept as it is once per (model, image key, class) for every session (read, never changed):
    no hashing of the image and no unpickled copy on a run."""
    return charts.kept("explain.explanation", (model_name, image, class_name),
                       lambda: explanation(model_name, img, class_name))


def faithful(model_name: str, img: np.ndarray, image: str, class_name: str,
             grid: tuple[int, int]) -> dict[str, faithfulness.Faithfulness]:
    """measured_faithfulness(...), kept as it is once per (model, image key, class, grid), like explained."""
    return charts.kept("explain.faithfulness", (model_name, image, class_name, grid),
                       lambda: measured_faithfulness(model_name, img, class_name, grid))


def warm_up() -> None:
    """The default view, computed before the first visitor asks (ui/warmup.py)."""
    img = sample(DEFAULTS["image"]).numpy()
    shown = [explanation(name, img, DEFAULTS["class"]) for name in (DEFAULTS["cnn"], DEFAULTS["vit"])]
    grid = faithfulness.common_grid(m.shape for e in shown for m in e.native.values())
    for name in (DEFAULTS["cnn"], DEFAULTS["vit"]):
        measured_faithfulness(name, img, DEFAULTS["class"], grid)


def class_picker(models) -> str:
    """One class for both models: their top class each (default), or any class both of them know."""
    known = [c for c in models[0].class_names if all(c in m.class_names for m in models[1:])]
    options = [TOP] + known
    choice = st.selectbox(t("explain.class"), options, index=bookmarks.index_in("class", options, DEFAULTS["class"]),
                          key="ex-class", format_func=worded(options, lambda c: t("explain.top_class") if c == TOP
                                                             else name_of("shape", c)),
                          help=None if known else t("explain.no_common_class"))
    st.query_params["class"] = choice
    return choice


def model_column(lm, img: np.ndarray, image: str, class_name: str, e: ex.Explanation,
                 faith: dict[str, faithfulness.Faithfulness], grid: tuple[int, int]) -> None:
    """The model's answer for the class, then each map over the image with its two areas on the common grid
    (`image`, `class_name` and `grid` name what `e` and `faith` were made of: ui.images.picked_key, the class)."""
    def texts() -> tuple[str, list[str]]:
        answer = t("explain.explains", model=lm.name, cls=name_of("shape", lm.class_names[e.class_idx]),
                   p=float(e.probs[e.class_idx]))
        under = []
        for method in e.maps:
            c, (h, w) = faith[method].curves[faithfulness.BASELINES[0]], e.native[method].shape
            under.append(t("explain.map_caption", method=t(f"explain.method.{method}"), rows=h, cols=w,
                           deletion=c.deletion_auc, insertion=c.insertion_auc))
        return answer, under

    answer, under = charts.once("explain.column", (lm.name, image, class_name, grid, current()), texts)
    st.markdown(answer)
    methods = list(e.maps)

    def picture(method: str) -> np.ndarray:
        rgb = pic.to_uint8(pic.overlay(lm.seen(torch.from_numpy(img)), torch.from_numpy(e.maps[method])).numpy())
        return pic.upscale(rgb, max(1, SHOWN_PX // rgb.shape[0]))

    for row in range(0, len(methods), 2):  # two maps a row; labels as text, which projector mode keeps
        for col, method in zip(st.container(key=f"{MAPS}_{lm.kind}_{row}").columns(2, gap="small"),
                               methods[row:row + 2]):
            with col:  # the map is the model's for this image and class: made once per (model, image, class, method)
                charts.image("explain.map", (lm.name, image, e.class_idx, method), lambda method=method: picture(method),
                             width="stretch")
            col.markdown(under[methods.index(method)])


def curves_frame(e: ex.Explanation, faith: dict[str, faithfulness.Faithfulness]) -> pd.DataFrame:
    """One row per point of one model's curves (the first baseline's), in the session's language."""
    rows = []
    for method, f in faith.items():
        c, label = f.curves[faithfulness.BASELINES[0]], t(f"explain.method.{method}")
        for curve in ("deletion", "insertion"):
            rows += [{"model": e.model, "method": label, "curve": curve, "fraction": x, "relative": float(p)}
                     for x, p in zip(c.fractions, getattr(c, curve))]
    return pd.DataFrame(rows)


def curves_chart(df: pd.DataFrame, curve: str, colours: dict[str, str], top: float) -> alt.Chart:
    """One model's deletion or insertion curves, one colour per kind of map (`colours`: the same in every chart); the
    chart takes its column's width, so the charts stack on a phone."""
    methods = list(dict.fromkeys(df["method"]))
    return alt.Chart(df[df["curve"] == curve], title=t(f"explain.curve.{curve}")).mark_line(
        point=alt.OverlayMarkDef(size=30)).encode(
        x=alt.X("fraction:Q", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1]),
                title=t("explain.axis.fraction")),
        y=alt.Y("relative:Q", scale=alt.Scale(domain=[0, top]), title=t("explain.axis.relative")),
        color=alt.Color("method:N", title=None, sort=methods,
                        scale=alt.Scale(domain=methods, range=[colours[m] for m in methods]),
                        legend=alt.Legend(orient="right")),
        tooltip=[alt.Tooltip("method:N", title=t("explain.legend.map")),
                 alt.Tooltip("fraction:Q", format=".0%", title=t("explain.axis.fraction")),
                 alt.Tooltip("relative:Q", format=".2f", title=t("explain.axis.relative"))],
    ).properties(height=round(CURVE_PX * present.scale()), padding={"top": 12, "left": 4, "right": 4, "bottom": 4})  # room for the title


def scores_frame(explanations: list[ex.Explanation], faith: dict[str, dict]) -> pd.DataFrame:
    """One row per map, the most faithful under the blur baseline first; the areas and scores written with three
    decimals, as strings (a pandas Styler's formatting would be redone on every run)."""
    numbers = [t("explain.col.deletion"), t("explain.col.insertion"), t("explain.col.score_blur"),
               t("explain.col.score_mean")]
    rows = [{t("explain.col.model"): e.model, t("explain.col.method"): t(f"explain.method.{m}"),
             t("explain.col.resolution"): "{}×{}".format(*e.native[m].shape),
             numbers[0]: round(f.curves["blur"].deletion_auc, 3), numbers[1]: round(f.curves["blur"].insertion_auc, 3),
             numbers[2]: round(f.score("blur"), 3), numbers[3]: round(f.score("mean"), 3)}
            for e in explanations for m, f in faith[e.model].items()]
    table = pd.DataFrame(rows).sort_values(numbers[2], ascending=False)
    return table.assign(**{c: table[c].map("{:.3f}".format) for c in numbers})


def faithfulness_section(explanations: list[ex.Explanation], faith: dict[str, dict], grid: tuple[int, int],
                         image: str, class_name: str) -> None:
    """The curves, the reading and the scores of the shown models' maps; `image`, `class_name` and `grid` name what
    they were made of (as in model_column), so each is made once per input and language for every session."""
    pair = (tuple(e.model for e in explanations), image, class_name, grid)
    st.subheader(t("explain.faith_title"))
    st.markdown(t("explain.faith_intro", rows=grid[0], cols=grid[1], margin=faithfulness.MARGIN))

    def curves():
        methods = dict.fromkeys(t(f"explain.method.{m}") for e in explanations for m in e.maps)
        frames = [curves_frame(e, faith[e.model]) for e in explanations]
        return (dict(zip(methods, METHOD_COLOURS * len(methods))), frames,
                max(1.0, *(float(df["relative"].max()) for df in frames)))

    # every chart shares the colours and the y scale of all: made together, and keyed by the pair
    colours, frames, top = charts.once("explain.curves_frames", (pair, current()), curves)
    for col, e, df in zip(st.columns(len(explanations), gap="large"), explanations, frames):
        with col:
            st.markdown(f"**{e.model}**")
            for curve in ("deletion", "insertion"):
                charts.chart("explain.curves", (pair, e.model, curve),
                             lambda df=df, curve=curve: curves_chart(df, curve, colours, top), width="stretch")

    def reading() -> str:
        scored = [faithfulness.Scored(e.model, m, f) for e in explanations for m, f in faith[e.model].items()]
        return "  \n".join(words(m) for m in faithfulness.reading(scored))

    st.info(charts.once("explain.reading", (pair, current()), reading))
    # a table wraps its cells: inside a phone's width (a dataframe scrolled sideways)
    with st.container(key=SCORES):
        charts.table("explain.scores", pair, lambda: scores_frame(explanations, faith), hide_index=True)
    st.markdown(t("explain.mixes", margin=faithfulness.MARGIN))
