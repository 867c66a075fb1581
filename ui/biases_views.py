"""The bias-by-bias page's sections: core.bias_pairs measures each bias on the picked CNN and ViT (cached here by the
models' names, so a rerun of the page reads the cache), core.biases_reading words the results, and this module lays
them out and draws them. Charts that stood side by side are drawn one per column, so that on a phone, where
Streamlit stacks columns, each keeps the screen's width."""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st
import torch

from core import biases as bi
from core import bias_pairs, biases_reading, models
from core.attention import AttentionError
from core.biases import ERF_IMAGES, probe
from core.experiments import fourier as fo
from core.pictures import heat_rgb
from ui import charts, compute, png
from ui.i18n import current, t, words
from ui.models import cached_model, model_picker

DEFAULTS = {"cnn": "cnn", "vit": "vit"}
MAP_TILE = 140  # px per heat map: six fit a 1400-px laptop's row, two a phone's
# a chart as wide as its column, its height the plot's alone (Streamlit's default "fit" would squeeze the plot of a
# chart with a legend below it, so two charts side by side would not line up)
FIT_WIDTH = alt.AutoSizeParams(type="fit-x", contains="padding")


def pickers():
    """The CNN and the ViT picker side by side: (cnn, vit), either None where it cannot be loaded."""
    c_cnn, c_vit = st.columns(2)
    with c_cnn:
        cnn = model_picker(t("biases.cnn_model"), kinds=("cnn",), default=DEFAULTS["cnn"], key="bi-cnn")
    with c_vit:
        vit = model_picker(t("biases.vit_model"), kinds=("vit",), default=DEFAULTS["vit"], key="bi-vit")
    return cnn, vit


def section(title: str, body, *args) -> None:
    """A section that says why it cannot measure this pair of models, and lets the rest of the page go on."""
    st.subheader(title)
    try:
        body(*args)
    except (bi.BiasError, AttentionError) as e:
        st.warning(t("biases.cannot", error=words(e)))


# --- locality ------------------------------------------------------------------------------------------------------
@st.cache_data(max_entries=8, show_spinner=False)
def locality(cnn_name: str, vit_name: str) -> dict:
    """ERF per CNN stage and the ViT centre patch's attention per layer, trained and untrained."""
    return compute.run(bias_pairs.pair_locality, cached_model(cnn_name), cached_model(vit_name),
                       probe()[0][:ERF_IMAGES])


def measured(name: str, pair: tuple[str, str], measure):
    """measure(*pair) (one of the cached measurements below), kept as it is once per pair of models for every
    session: a run reads it without unpickling a copy (the spinner shows only while it is first read or computed)."""
    def make():
        with st.spinner(t("biases.computing")):
            return measure(*pair)
    return charts.kept(name, pair, make)


def reading(name: str, inputs: tuple, read) -> str:
    """words(read()), a core.biases_reading Message, made once per (inputs, language)."""
    return charts.once(name, (*inputs, current()), lambda: words(read()))


def locality_section(cnn, vit) -> None:
    pair = (cnn.name, vit.name)
    loc = measured("biases.locality_data", pair, locality)
    st.caption(t("biases.locality.intro"))  # hidden in projector mode: the chart must reach the first screen

    def panels():
        rows = locality_frame(loc)
        return [locality_chart(rows, share, legend=share == bias_pairs.SHARES[-1]) for share in bias_pairs.SHARES]

    for col, spec in zip(st.columns(len(bias_pairs.SHARES)), charts.specs("biases.locality", pair, panels)):
        col.vega_lite_chart(spec, width="stretch")
    maps_row("biases.erf", pair, [r["erf"] for r in loc["cnn"]], [stage_caption(r["stage"]) for r in loc["cnn"]])
    maps_row("biases.attention", pair, [r["attention"] for r in loc["vit"]],
             [t("biases.locality.layer", layer=r["layer"]) for r in loc["vit"]])
    st.info(reading("biases.locality_reading", pair, lambda: biases_reading.locality_reading(loc)))


def locality_frame(loc: dict) -> pd.DataFrame:
    """core.bias_pairs.locality_radii with its maps, depths and weights in the session's language."""
    rows = pd.DataFrame(bias_pairs.locality_radii(loc))
    return rows.assign(what=rows["map"].map(lambda k: t(f"biases.locality.{k}")),
                       depth=rows["depth"].map(stage_label),
                       weights=rows["trained"].map(lambda tr: t("biases.locality.trained") if tr else
                                                   t("biases.locality.untrained")))


def stage_label(stage: int | None) -> str:
    """A depth on the chart's axis: a stage or layer number, or "last" for the one map of a CNN that is no ResNet."""
    return t("biases.locality.last") if stage is None or pd.isna(stage) else str(int(stage))


def stage_caption(stage: int | None) -> str:
    return t("biases.locality.last_map") if stage is None else t("biases.locality.stage", stage=stage)


def locality_chart(rows: pd.DataFrame, share: int, legend: bool) -> alt.LayerChart:
    """The radius holding `share` % of each map's mass against depth: trained solid, untrained dashed; both shares'
    charts on one radius scale (0 to the largest radius of either)."""
    kinds = [t(f"biases.locality.{k}") for k in ("erf", "attention", "rollout")]
    weights = [t("biases.locality.trained"), t("biases.locality.untrained")]
    depths = sorted(rows["depth"].unique(), key=lambda d: (not d.isdigit(), int(d) if d.isdigit() else 0))
    key = alt.Legend(orient="bottom", direction="vertical", labelLimit=0)
    base = alt.Chart(rows[rows["share"] == share]).encode(
        x=alt.X("depth:O", title=t("biases.locality.depth"), sort=depths, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("radius:Q", title=t("biases.locality.radius"), scale=alt.Scale(domain=[0, float(rows.radius.max())])),
        color=alt.Color("what:N", title=None, scale=alt.Scale(domain=kinds, range=[
            models.EMBEDDED["cnn"].colour, models.EMBEDDED["vit"].colour, "#ff7f0e"]), legend=key if legend else None),
        tooltip=[alt.Tooltip("what:N", title=t("biases.locality.map")), alt.Tooltip("weights:N", title=""),
                 alt.Tooltip("depth:O", title=t("biases.locality.depth")),
                 alt.Tooltip("radius:Q", format=".1f", title="px")])
    # the legend draws each weights' line as it is drawn (a point would hide the dash)
    lines = base.mark_line(strokeWidth=2).encode(strokeDash=alt.StrokeDash(
        "weights:N", title=None, scale=alt.Scale(domain=weights, range=[[1, 0], [5, 4]]),  # trained solid, any language
        legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=0, symbolType="stroke",
                          symbolStrokeColor="#555", symbolStrokeWidth=2, symbolSize=400) if legend else None))
    points = base.mark_point(filled=True, size=30).encode(detail="weights:N")
    return (lines + points).properties(height=240, title=t("biases.locality.holding", share=share), autosize=FIT_WIDTH)


def maps_row(name: str, pair: tuple[str, str], maps: list[torch.Tensor], captions: list[str]) -> None:
    """Small heat maps in a row that wraps (six to a laptop's row, two to a phone's), each scaled to its own maximum,
    captioned as text (projector mode hides image captions); the row's PNGs made together once per pair of models
    (one cache lookup a run, not one a picture) and passed to st.image as they are (as ui.charts.image does)."""
    pictures = charts.once(name, pair, lambda: [png(heat_rgb(m, 120)) for m in maps])
    with st.container(horizontal=True, gap="small"):
        for picture, cap in zip(pictures, captions):
            with st.container(width=MAP_TILE, gap=None):
                st.image(picture, output_format="PNG", width="stretch")
                st.markdown(cap)


# --- weight sharing ----------------------------------------------------------------------------------------------------
def sharing_section(cnn, vit) -> None:
    st.caption(t("biases.sharing.intro"))
    pair = (cnn.name, vit.name)
    sharing = charts.once("biases.sharing_data", pair, lambda: bias_pairs.pair_sharing(cnn.net, vit.net))
    charts.table("biases.sharing_table", pair, lambda: sharing_table(sharing), hide_index=True)
    for col, model in zip(st.columns(2), (cnn, vit)):
        col.markdown(f"**{model.name}**")
        with col:
            charts.table("biases.parts_table", (model.name,), lambda model=model: parts_table(model), hide_index=True)
    st.info(reading("biases.sharing_reading", pair, lambda: biases_reading.sharing_reading(sharing, *pair)))


def sharing_table(sharing: dict) -> pd.DataFrame:
    return pd.DataFrame([{t("biases.sharing.layer"): t(f"biases.sharing.{k}", dim=sharing["vit_dim"]),
                          t("biases.sharing.params"): f"{n:,}"} for k, n in sharing["counts"].items()])


def parts_table(model) -> pd.DataFrame:
    parts = bi.params_by_part(model.net)
    total = sum(parts.values())
    return pd.DataFrame([{t("biases.sharing.part"): t(f"biases.sharing.parts.{p}"), t("biases.sharing.params"): f"{n:,}",
                          t("biases.sharing.share"): f"{n / total:.1%}"} for p, n in parts.items()])


# --- hierarchy -----------------------------------------------------------------------------------------------------------
@st.cache_data(max_entries=8, show_spinner=False)
def cka(cnn_name: str, vit_name: str) -> dict[str, torch.Tensor]:
    return compute.run(bias_pairs.pair_cka, cached_model(cnn_name), cached_model(vit_name), probe()[0])


def hierarchy_section(cnn, vit) -> None:
    m = measured("biases.cka_data", (cnn.name, vit.name), cka)
    st.caption(t("biases.hierarchy.intro", images=bi.PROBE_IMAGES))
    # CNN stages count from 0 (the stem), ViT layers from 1, as in the locality section and the reading
    stage, layer = (t("biases.hierarchy.cnn_axis"), 0), (t("biases.hierarchy.vit_axis"), 1)
    for col, (key, rows, cols, pair) in zip(st.columns(3), (("cnn_vit", stage, layer, (cnn, vit)),
                                                             ("cnn_cnn", stage, stage, (cnn, cnn)),
                                                             ("vit_vit", layer, layer, (vit, vit)))):
        with col:
            charts.chart("biases.cka", (cnn.name, vit.name, key),
                         lambda key=key, rows=rows, cols=cols, pair=pair: cka_chart(
                             m[key], rows, cols, " × ".join(x.name for x in pair)), width="stretch")
    st.info(reading("biases.cka_reading", (cnn.name, vit.name), lambda: biases_reading.cka_reading(m)))
    st.markdown(t("biases.hierarchy.paper"))


def cka_chart(m: torch.Tensor, rows_axis: tuple[str, int], cols_axis: tuple[str, int], title: str) -> alt.Chart:
    """CKA of every pair of layers; each axis (its title, the number of its first layer)."""
    (row_title, row_from), (col_title, col_from) = rows_axis, cols_axis
    rows = [{"row": i + row_from, "col": j + col_from, "cka": float(m[i, j])}
            for i in range(m.shape[0]) for j in range(m.shape[1])]
    return alt.Chart(pd.DataFrame(rows)).mark_rect().encode(
        x=alt.X("col:O", title=col_title, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("row:O", title=row_title, sort="descending"),
        color=alt.Color("cka:Q", scale=alt.Scale(domain=[0, 1], scheme="viridis"), title="CKA"),
        tooltip=[alt.Tooltip("row:O", title=row_title), alt.Tooltip("col:O", title=col_title),
                 alt.Tooltip("cka:Q", format=".2f", title="CKA")],
    ).properties(height=200, title=title, autosize=FIT_WIDTH)


# --- patches and position embeddings --------------------------------------------------------------------------------
@st.cache_data(max_entries=8, show_spinner=False)
def order(cnn_name: str, vit_name: str) -> pd.DataFrame | None:
    """Accuracy on the probe images as their tiles are shuffled and as patches are dropped (core.bias_pairs.
    patch_order_rows), or None for a model that does not classify the shapes."""
    cnn, vit = cached_model(cnn_name), cached_model(vit_name)
    if not (bias_pairs.scores_shapes(cnn) and bias_pairs.scores_shapes(vit)):
        return None
    images, labels = probe()
    return pd.DataFrame(compute.run(bias_pairs.patch_order_rows, cnn, vit, images, labels))


def patches_section(cnn, vit) -> None:
    st.caption(t("biases.patches.intro"))
    df = measured("biases.order_data", (cnn.name, vit.name), order)
    if df is None:
        st.info(t("biases.patches.needs_shapes"))
        return
    for col, test in zip(st.columns(2), ("shuffle", "drop")):
        with col:
            charts.chart("biases.order", (cnn.name, vit.name, test),
                         lambda test=test: order_chart(df, test, legend=test == "drop"), width="stretch")
    st.info(reading("biases.order_reading", (cnn.name, vit.name), lambda: biases_reading.order_reading(df)))


WHO = ("cnn", "vit", "vit_zero", "vit_permuted", "vit_black")  # patch_order_rows' predictors, in the legend's order


def order_chart(df: pd.DataFrame, test: str, legend: bool) -> alt.Chart:
    """Accuracy against the shuffling grid ("shuffle") or the share of patches dropped ("drop")."""
    names = {w: t(f"biases.patches.who.{w}") for w in WHO}
    data = df[df.test == test].assign(label=lambda d: d.who.map(names))
    colour = alt.Color("label:N", title=None, scale=alt.Scale(
        domain=[names[w] for w in WHO],
        range=[models.EMBEDDED["cnn"].colour, models.EMBEDDED["vit"].colour, "#9467bd", "#bcbd22", "#ff9896"]),
        legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=0) if legend else None)
    acc = t("biases.patches.acc")
    if test == "shuffle":
        x, title = alt.X("x:O", title=t("biases.patches.grid"), axis=alt.Axis(labelAngle=0)), "shuffle_title"
        x_tip = alt.Tooltip("x:O", title=t("biases.patches.grid"))
    else:
        x = alt.X("x:Q", title=t("biases.patches.dropped"), axis=alt.Axis(format="%"),
                  scale=alt.Scale(domain=[0, float(data.x.max())], nice=False))
        x_tip, title = alt.Tooltip("x:Q", format=".0%", title=t("biases.patches.dropped")), "drop_title"
    return alt.Chart(data).mark_line(point=True).encode(
        x=x, y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"), title=acc),
        color=colour, tooltip=[alt.Tooltip("label:N", title=""), alt.Tooltip("accuracy:Q", format=".1%", title=acc),
                               x_tip],
    ).properties(height=230, title=t(f"biases.patches.{title}"), autosize=FIT_WIDTH)


# --- frequency --------------------------------------------------------------------------------------------------------
def frequency_section(cnn, vit) -> None:
    """The shipped heat maps of the embedded cnn and vit (whatever the pickers say: the page's intro says so)."""
    path = fo.FOURIER_FILE
    version = charts.version(path)
    res = None if version is None else charts.once("biases.fourier_data", version, lambda: fo.load(path))
    if res is None:
        st.info(t("biases.fourier.missing"))
        return
    st.caption(t("biases.fourier.intro", eps=float(res["eps"]), images=int(res["images"])))
    for col, name in zip(st.columns(2), ("cnn", "vit")):
        with col:
            charts.chart("biases.fourier", (name, version), lambda name=name: fourier_chart(res, name),
                         width="content")
    st.info(reading("biases.fourier_reading", version, lambda: biases_reading.fourier_reading(res)))
    st.markdown(t("biases.fourier.paper"))


FOURIER_SIDE = 240  # px, the plot's own ("pad"): square cells, and with its axes the panel fits a phone's width


def fourier_chart(res: dict, name: str) -> alt.Chart:
    f, err = res["frequencies"], res[f"error_{name}"]
    ticks = [int(k) for k in f[::4]]
    rows = [{"u": int(u), "v": int(v), "error": float(err[i, j])} for i, v in enumerate(f) for j, u in enumerate(f)]
    return alt.Chart(pd.DataFrame(rows)).mark_rect().encode(
        x=alt.X("u:O", title=t("biases.fourier.u"), axis=alt.Axis(values=ticks, labelAngle=0)),
        y=alt.Y("v:O", title=t("biases.fourier.v"), sort="descending", axis=alt.Axis(values=ticks)),
        color=alt.Color("error:Q", scale=alt.Scale(domain=[0, 1], scheme="inferno"), title=t("biases.fourier.error"),
                        legend=alt.Legend(orient="bottom", gradientLength=FOURIER_SIDE * 0.6)),
        tooltip=[alt.Tooltip("u:O", title="u"), alt.Tooltip("v:O", title="v"),
                 alt.Tooltip("error:Q", format=".0%", title=t("biases.fourier.error"))],
    ).properties(width=FOURIER_SIDE, height=FOURIER_SIDE, title=name, autosize=alt.AutoSizeParams(type="pad"))


def warm_up() -> None:
    """The default view's measurements, computed at server start so the first visit reads the cache."""
    for fn in (locality, cka, order):  # a failure (missing weights) is reported by ui.warmup, and the page says it
        fn(DEFAULTS["cnn"], DEFAULTS["vit"])
