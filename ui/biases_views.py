"""The bias-by-bias page's sections: every number measured on the picked CNN and ViT by core.biases, cached by the
models' names (a rerun of the page reads the cache), and drawn."""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st
import torch

from core import biases as bi
from core import models, shapes
from core.biases import ERF_IMAGES, probe
from core.messages import Message, listing
from core.pictures import heat_rgb
from ui import compute, png
from ui.i18n import t
from ui.models import cached_model

DEFAULTS = {"cnn": "cnn", "vit": "vit"}


def _knows_the_shapes(model) -> bool:
    return list(model.class_names) == list(shapes.CLASSES)


# --- locality ------------------------------------------------------------------------------------------------------
@st.cache_data(max_entries=8, show_spinner=False)
def locality(cnn_name: str, vit_name: str) -> dict:
    """ERF per CNN stage and the ViT centre patch's attention per layer, trained and untrained."""
    cnn, vit = cached_model(cnn_name), cached_model(vit_name)
    images = probe()[0][:ERF_IMAGES]

    def measure():
        out = {"cnn": bi.cnn_locality(cnn.net, cnn.preprocess(images)),
               "cnn_untrained": bi.cnn_locality(bi.untrained_copy(cnn.net), cnn.preprocess(images))}
        with torch.inference_mode():
            out["vit"] = bi.vit_locality(vit.net, vit.preprocess(images))
            out["vit_untrained"] = bi.vit_locality(bi.untrained_copy(vit.net), vit.preprocess(images))
        return out

    return compute.run(measure)


def locality_rows(loc: dict) -> pd.DataFrame:
    """One row per (model, depth, weights, share): the radius in px holding that share of the map's mass."""
    rows = []
    for key, kind in (("cnn", "erf"), ("cnn_untrained", "erf"), ("vit", "attention"), ("vit_untrained", "attention"),
                      ("vit", "rollout")):
        trained = not key.endswith("untrained")
        for r in loc[key]:
            depth = (stage_label(r["stage"]) if kind == "erf" else r["layer"])
            for share in ("50", "90"):
                radius = r[f"r{share}"] if kind == "erf" else r[f"{kind}_r{share}"]
                rows.append({"what": t(f"biases.locality.{kind}"), "depth": depth, "radius": radius,
                             "weights": t("biases.locality.trained" if trained else "biases.locality.untrained"),
                             "share": f"{share} %"})
    return pd.DataFrame(rows)


def stage_label(stage: int | None):
    """A CNN stage on the chart's depth axis: its number, or "last" for the one map of a CNN that is no ResNet."""
    return t("biases.locality.last") if stage is None else stage


def stage_caption(stage: int | None) -> str:
    return t("biases.locality.last_map") if stage is None else t("biases.locality.stage", stage=stage)


def locality_chart(rows: pd.DataFrame) -> alt.Chart:
    kinds = [t(f"biases.locality.{k}") for k in ("erf", "attention", "rollout")]
    return alt.Chart(rows).mark_line(point=True).encode(
        x=alt.X("depth:O", title=t("biases.locality.depth"), axis=alt.Axis(labelAngle=0)),
        y=alt.Y("radius:Q", title=t("biases.locality.radius")),
        color=alt.Color("what:N", title=None, scale=alt.Scale(domain=kinds, range=[
            models.EMBEDDED["cnn"].colour, models.EMBEDDED["vit"].colour, "#ff7f0e"])),
        strokeDash=alt.StrokeDash("weights:N", title=None, scale=alt.Scale(  # trained solid in every language
            domain=[t("biases.locality.trained"), t("biases.locality.untrained")], range=[[1, 0], [5, 4]])),
        tooltip=[alt.Tooltip("what:N", title=t("biases.locality.map")), alt.Tooltip("weights:N", title=""),
                 alt.Tooltip("depth:O", title=t("biases.locality.depth")), alt.Tooltip("share:N", title=""),
                 alt.Tooltip("radius:Q", format=".1f", title="px")],
    ).properties(width=300, height=240).facet(column=alt.Column("share:N", title=t("biases.locality.share"))
                                              ).configure_legend(labelLimit=260)


def maps_row(maps: list[torch.Tensor], captions: list[str]) -> None:
    """Small heat maps side by side, each scaled to its own maximum, captioned as text (projector mode hides image
    captions)."""
    for col, m, cap in zip(st.columns(len(maps)), maps, captions):
        col.image(png(heat_rgb(m, 120)), width="stretch")
        col.markdown(cap)  # text, not an image caption: projector mode hides those


def locality_reading(loc: dict) -> Message:
    cnn, vit = loc["cnn"], loc["vit"]
    if len(cnn) == 1:  # a CNN that is no ResNet: its last feature map only
        return Message("biases.locality.reading_last", {
            "cnn_last": cnn[-1]["r90"], "cnn_untrained": loc["cnn_untrained"][-1]["r90"],
            "vit_first": vit[0]["attention_r90"], "vit_last": vit[-1]["attention_r90"], "layers": len(vit),
            "vit_untrained": loc["vit_untrained"][0]["attention_r90"]})
    return Message("biases.locality.reading", {
        "cnn_first": cnn[0]["r90"], "cnn_last": cnn[-1]["r90"], "stages": len(cnn) - 1,
        "vit_first": vit[0]["attention_r90"], "vit_last": vit[-1]["attention_r90"], "layers": len(vit),
        "vit_untrained": loc["vit_untrained"][0]["attention_r90"], "cnn_untrained": loc["cnn_untrained"][0]["r90"]})


# --- weight sharing ----------------------------------------------------------------------------------------------------
def sharing_table(vit_dim: int, vit_hidden: int) -> pd.DataFrame:
    return pd.DataFrame([{t("biases.sharing.layer"): t(f"biases.sharing.{k}", dim=vit_dim),
                          t("biases.sharing.params"): f"{n:,}"} for k, n in bi.sharing_counts(vit_dim, vit_hidden).items()])


def parts_table(model) -> pd.DataFrame:
    parts = bi.params_by_part(model.net)
    total = sum(parts.values())
    return pd.DataFrame([{t("biases.sharing.part"): t(f"biases.sharing.parts.{p}"), t("biases.sharing.params"): f"{n:,}",
                          t("biases.sharing.share"): f"{n / total:.1%}"} for p, n in parts.items()])


# --- hierarchy -----------------------------------------------------------------------------------------------------------
@st.cache_data(max_entries=8, show_spinner=False)
def cka(cnn_name: str, vit_name: str) -> dict[str, torch.Tensor]:
    cnn, vit = cached_model(cnn_name), cached_model(vit_name)
    images = probe()[0]

    def measure():
        with torch.inference_mode():
            fc, fv = bi.layer_features(cnn.net, cnn.preprocess(images)), bi.layer_features(vit.net, vit.preprocess(images))
        return {"cnn_vit": bi.cka_matrix(fc, fv), "cnn_cnn": bi.cka_matrix(fc, fc), "vit_vit": bi.cka_matrix(fv, fv)}

    return compute.run(measure)


def cka_chart(m: torch.Tensor, row_title: str, col_title: str, title: str) -> alt.Chart:
    rows = [{"row": i, "col": j, "cka": float(m[i, j])} for i in range(m.shape[0]) for j in range(m.shape[1])]
    return alt.Chart(pd.DataFrame(rows)).mark_rect().encode(
        x=alt.X("col:O", title=col_title), y=alt.Y("row:O", title=row_title, sort="descending"),
        color=alt.Color("cka:Q", scale=alt.Scale(domain=[0, 1], scheme="viridis"), title="CKA"),
        tooltip=[alt.Tooltip("row:O", title=row_title), alt.Tooltip("col:O", title=col_title),
                 alt.Tooltip("cka:Q", format=".2f", title="CKA")],
    ).properties(width=220, height=200, title=title)


def cka_reading(m: dict) -> Message:
    best = m["cnn_vit"].argmax(0)  # for each ViT layer, the most similar CNN stage
    vv = m["vit_vit"]
    neighbour = float(torch.stack([vv[i, i + 1] for i in range(len(vv) - 1)]).mean())
    return Message("biases.hierarchy.reading", {
        "matches": listing(Message("biases.hierarchy.match", {"layer": j + 1, "stage": int(s),
                                                             "cka": float(m["cnn_vit"][s, j])})
                           for j, s in enumerate(best.tolist())),
        "neighbour": neighbour, "ends": float(vv[0, -1])})


# --- patches and position embeddings --------------------------------------------------------------------------------
@st.cache_data(max_entries=8, show_spinner=False)
def order(cnn_name: str, vit_name: str) -> pd.DataFrame | None:
    """Accuracy on the probe images as their tiles are shuffled and as patches are dropped: CNN, ViT, and the ViT
    with zeroed or permuted position embeddings."""
    cnn, vit = cached_model(cnn_name), cached_model(vit_name)
    if not (_knows_the_shapes(cnn) and _knows_the_shapes(vit)):
        return None
    images, labels = probe()
    return pd.DataFrame(compute.run(bi.patch_order_rows, cnn, vit, images, labels))


def order_charts(df: pd.DataFrame) -> alt.HConcatChart:
    order = ["cnn", "vit", "vit_zero", "vit_permuted", "vit_black"]
    names = {w: t(f"biases.patches.who.{w}") for w in order}
    data = df.assign(label=df.who.map(names))
    colour = alt.Color("label:N", title=None, sort=[names[w] for w in order], scale=alt.Scale(
        domain=[names[w] for w in order],
        range=[models.EMBEDDED["cnn"].colour, models.EMBEDDED["vit"].colour, "#9467bd", "#bcbd22", "#ff9896"]),
        legend=alt.Legend(orient="bottom", columns=3, labelLimit=300))
    y = alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"), title=t("biases.patches.acc"))
    tip = [alt.Tooltip("label:N", title=""), alt.Tooltip("accuracy:Q", format=".1%", title=t("biases.patches.acc"))]
    shuffle = alt.Chart(data[data.test == "shuffle"]).mark_line(point=True).encode(
        x=alt.X("x:O", title=t("biases.patches.grid")), y=y, color=colour,
        tooltip=tip + [alt.Tooltip("x:O", title=t("biases.patches.grid"))]).properties(
        width=320, height=230, title=t("biases.patches.shuffle_title"))
    drop = alt.Chart(data[data.test == "drop"]).mark_line(point=True).encode(
        x=alt.X("x:Q", title=t("biases.patches.dropped"), axis=alt.Axis(format="%")), y=y, color=colour,
        tooltip=tip + [alt.Tooltip("x:Q", format=".0%", title=t("biases.patches.dropped"))]).properties(
        width=320, height=230, title=t("biases.patches.drop_title"))
    return alt.hconcat(shuffle, drop)


def order_reading(df: pd.DataFrame) -> Message:
    s = df[df.test == "shuffle"].pivot(index="x", columns="who", values="accuracy")
    finest = int(s.index.max())
    d = df[df.test == "drop"].pivot(index="x", columns="who", values="accuracy")
    order_free = s.loc[finest, "vit"] >= s.loc[1, "vit"] - bi.ORDER_FREE  # does the ViT use where its patches are?
    return Message("biases.patches.reading_order_free" if order_free else "biases.patches.reading_uses_order", {
        "grid": finest, "cnn_0": s.loc[1, "cnn"], "cnn_g": s.loc[finest, "cnn"], "vit_0": s.loc[1, "vit"],
        "vit_g": s.loc[finest, "vit"], "zero_0": s.loc[1, "vit_zero"], "perm_0": s.loc[1, "vit_permuted"],
        "frac": float(d.index.max()), "cnn_d": d["cnn"].iloc[-1], "vit_d": d["vit"].iloc[-1]})


def warm_up() -> None:
    """The default view's measurements, computed at server start so the first visit reads the cache."""
    for fn in (locality, cka, order):  # a failure (missing weights) is reported by ui.warmup, and the page says it
        fn(DEFAULTS["cnn"], DEFAULTS["vit"])



# --- frequency --------------------------------------------------------------------------------------------------------
LOW, HIGH = 8, 16  # cycles per image: the bands the reading compares


def fourier_chart(res: dict) -> alt.HConcatChart:
    f = res["frequencies"]
    panels = []
    for name in ("cnn", "vit"):
        err = res[f"error_{name}"]
        rows = [{"u": int(u), "v": int(v), "error": float(err[i, j])} for i, v in enumerate(f) for j, u in enumerate(f)]
        panels.append(alt.Chart(pd.DataFrame(rows)).mark_rect().encode(
            x=alt.X("u:O", title=t("biases.fourier.u"), axis=alt.Axis(values=[int(k) for k in f[::4]])),
            y=alt.Y("v:O", title=t("biases.fourier.v"), sort="descending", axis=alt.Axis(values=[int(k) for k in f[::4]])),
            color=alt.Color("error:Q", scale=alt.Scale(domain=[0, 1], scheme="inferno"), title=t("biases.fourier.error")),
            tooltip=[alt.Tooltip("u:O", title="u"), alt.Tooltip("v:O", title="v"),
                     alt.Tooltip("error:Q", format=".0%", title=t("biases.fourier.error"))],
        ).properties(width=260, height=260, title=name))
    return alt.hconcat(*panels)


def fourier_reading(res: dict) -> Message:
    from core.experiments import fourier as fo

    band = {n: (fo.band_error(res[f"error_{n}"], 1, LOW), fo.band_error(res[f"error_{n}"], HIGH, 100))
            for n in ("cnn", "vit")}
    axis = {n: fo.axis_error(res[f"error_{n}"], res["frequencies"]) for n in ("cnn", "vit")}
    return Message("biases.fourier.reading", {"low": LOW, "high": HIGH, "eps": float(res["eps"]),
                                              "cnn_clean": float(res["clean_cnn"]), "vit_clean": float(res["clean_vit"]),
                                              "cnn_low": band["cnn"][0], "cnn_high": band["cnn"][1],
                                              "vit_low": band["vit"][0], "vit_high": band["vit"][1],
                                              "cnn_on": axis["cnn"][0], "cnn_off": axis["cnn"][1],
                                              "vit_on": axis["vit"][0], "vit_off": axis["vit"][1]})
