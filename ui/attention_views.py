"""Drawing helpers and cached computations for the ViT attention page (the page stays a thin script)."""
from __future__ import annotations

import base64
from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
import torch
from PIL import Image, ImageDraw, ImageFont

from core import attention as att
from core import explain as ex
from core import messages, models
from core import pictures as pic
from core import shapes
from ui import bookmarks, charts, compute, page_link, png, present
from ui.i18n import Message, current, listing, name_of, t, worded, words
from ui.images import sample
from ui.models import cached_model, colour_scale

CHART_PX = 320  # display width of the clickable image: within a phone's 358-px column, whole pixels of a 64-px image
GRID_PX = 384  # the numbered patch grid's picture (shown as wide as its column)
# the token sequence drawn twice, one shown: where the page's columns stack (a phone), the narrow drawing
TOKENS_CSS = f"""<style>
{present.PHONE} {{ :has(> .st-key-att_tokens_wide) {{ display: none !important; }} }}
{present.WIDE} {{ :has(> .st-key-att_tokens_narrow) {{ display: none !important; }} }}
</style>"""
DEFAULTS = {"model": "vit", "image": "one star (64×64)"}


@dataclass
class Analysis:
    inputs: tuple[str, str]  # (model name, image digest): what every picture and chart of it depends on
    geo: att.ViTGeometry
    shown: np.ndarray  # [3, H, W] in [0, 1]: the image as the model sees it
    attn: np.ndarray  # [L, H, N, N]
    probs: np.ndarray  # [classes]


# Each cached result has three names by role: `_compute_<x>` runs the model (uncached), `_cached_<x>` is its
# cache entry (by model name), `<x>` is what a page calls (the cached one, with a spinner). Resources, not data: one
# object for every session, never changed in place (st.cache_data would unpickle a copy of the attention maps, the
# embeddings' pictures and distances on every run of every visitor)
@st.cache_resource(max_entries=8, ttl="15m", show_spinner=False)
def _cached_analysis(model_name: str, img: np.ndarray) -> Analysis:
    return compute.run(_compute_analysis, cached_model(model_name), img)


def analysis(model_name: str, img: np.ndarray) -> Analysis:
    """The ViT's attention, prediction and geometry for one image (cached), with a spinner in the session's
    language while it runs."""
    with st.spinner(t("attention.spinner.vit")):
        return _cached_analysis(model_name, img)


def warm_up() -> None:
    """The default view's results, computed before the first visitor asks (ui/warmup.py)."""
    _cached_analysis(DEFAULTS["model"], sample(DEFAULTS["image"]).numpy())
    embeddings(DEFAULTS["model"])
    _batch_distance(DEFAULTS["model"])  # the page's distance chart, and the tour's last question
    vit_comparison(tuple(embedded_vits()))  # the page's last section: every embedded ViT


def _compute_analysis(lm, img: np.ndarray) -> Analysis:
    x = lm.preprocess(torch.from_numpy(img))
    attn, logits = att.attention_and_logits(lm.net, x)
    shown = pic.denormalize(x, lm.mean, lm.std)[0]
    return Analysis((lm.name, charts.digest(img)), att.vit_geometry(lm.net, x.shape[-2:]), shown.numpy(),
                    attn[0].numpy(), logits.softmax(-1)[0].numpy())


@st.cache_resource(max_entries=8, show_spinner=False)
def _batch_distance(model_name: str, n: int = 32) -> np.ndarray:
    lm = cached_model(model_name)
    images, _, _ = shapes.make_dataset(n, seed=0)
    return compute.run(lambda: att.attention_distance_over(lm.net, lm.preprocess(images)).numpy())


def batch_distance(model_name: str, n: int = 32) -> np.ndarray:
    """Mean attention distance [L, H] over n sample images (cached), with a spinner while it runs."""
    with st.spinner(t("attention.spinner.distance")):
        return _batch_distance(model_name, n)


@st.cache_resource(max_entries=8, show_spinner=False)
def embeddings(model_name: str):
    """(PCA tiles image, explained ratios) or why not (a Message), and (the pos-embed similarity [gh, gw, gh, gw],
    its locality) or why not (a Message)."""
    net = cached_model(model_name).net
    try:
        comps, ratio = att.patch_embed_pca(net, 28)
        tiles = pic.tile_grid(pic.filters_to_rgb(comps), cols=7)
        pca = (pic.upscale(tiles.numpy(), 256 // max(tiles.shape[:2]) + 1), ratio.numpy())
    except att.AttentionError as e:
        pca = e.message
    try:
        sim = att.pos_embed_similarity(net).numpy(), att.pos_embed_locality(net)
    except att.AttentionError as e:
        sim = e.message
    return pca, sim


@st.cache_resource(max_entries=16, show_spinner=False)
def _cached_cam(model_name: str, img: np.ndarray):
    return compute.run(_compute_cam, cached_model(model_name), img)


def cam(model_name: str, img: np.ndarray):
    """(CAM overlay [H, W, 3], class probabilities, CAM [h, w]) of a CNN (cached), with a spinner while it runs."""
    with st.spinner(t("attention.spinner.cam")):
        return _cached_cam(model_name, img)


def _compute_cam(lm, img: np.ndarray):
    """The top class's CAM (TorchCAM, via core.explain; Grad-CAM where the model has no CAM), one block per cell."""
    e = ex.explain(lm, torch.from_numpy(img))
    cam_map = e.native["cam" if "cam" in e.native else "gradcam"]
    return pic.overlay(lm.seen(torch.from_numpy(img)), torch.from_numpy(cam_map)).numpy(), e.probs, cam_map


def cam_frame(cam_map: np.ndarray) -> pd.DataFrame:
    idx = np.indices(cam_map.shape).reshape(2, -1) + 1
    return pd.DataFrame({"row": idx[0], "col": idx[1], "cam": cam_map.reshape(-1)})


def _font(size: int, cjk: bool = False):
    """Pillow's own font, or for Chinese labels the CJK font (core.pictures.cjk_font_path)."""
    if cjk and pic.cjk_font_path():
        return ImageFont.truetype(pic.cjk_font_path(), max(8, size))
    return ImageFont.load_default(size=max(8, size))


def labels_drawable(lang: str) -> bool:
    """Whether labels in `lang` can be drawn into a picture: Chinese needs a CJK font (Pillow's own has none and
    would draw empty boxes); without one the page writes them beside the picture."""
    return lang != "zh" or pic.cjk_font_path() is not None


def _factor(h: int, w: int, target: int = CHART_PX) -> int:
    return max(1, target // max(h, w))


def patch_grid_image(shown: np.ndarray, geo: att.ViTGeometry) -> Image.Image:
    """The image with the patch grid drawn over it and every patch numbered (1 = top-left)."""
    f = max(_factor(*shown.shape[1:], GRID_PX), -(-32 // min(geo.patch_size)))  # patches at least 32 px
    im = Image.fromarray(pic.upscale(pic.to_uint8(shown.transpose(1, 2, 0)), f))
    d = ImageDraw.Draw(im)
    ph, pw = geo.patch_size[0] * f, geo.patch_size[1] * f
    font = _font(min(ph, pw) // 3)
    for r in range(geo.grid_size[0]):
        for c in range(geo.grid_size[1]):
            d.rectangle([c * pw, r * ph, (c + 1) * pw - 1, (r + 1) * ph - 1], outline=(255, 255, 255))
            d.text((c * pw + 2, r * ph + 1), str(r * geo.grid_size[1] + c + 1), fill=(255, 235, 0), font=font,
                   stroke_width=1, stroke_fill=(0, 0, 0))
    return im


def token_sequence_image(shown: np.ndarray, geo: att.ViTGeometry, per_line: int | None = None,
                         font_px: int = 11) -> Image.Image:
    """The prefix tokens, then every patch in reading order, as a wrapped sequence of numbered tiles labelled in
    `font_px` type."""
    tile = 36
    label_h, gap = font_px + 3, 4
    n = geo.num_tokens
    per_line = min(per_line or (16 if n <= 80 else 24), n)
    rows = -(-n // per_line)
    im = Image.new("RGB", (per_line * (tile + gap), rows * (tile + label_h + gap)), (255, 255, 255))
    d = ImageDraw.Draw(im)
    font = _font(font_px)
    ph, pw = geo.patch_size
    img = pic.to_uint8(shown.transpose(1, 2, 0))
    for token in range(n):
        r, c = divmod(token, per_line)
        x0, y0 = c * (tile + gap), r * (tile + label_h + gap)
        if token < geo.num_prefix_tokens:
            name = geo.prefix_names[token]
            d.rectangle([x0, y0, x0 + tile - 1, y0 + tile - 1], fill=(70, 90, 160))
            d.text((x0 + 3, y0 + (tile - font_px) // 2), name[:5], fill=(255, 255, 255), font=font)
        else:
            p = token - geo.num_prefix_tokens
            gr, gc = divmod(p, geo.grid_size[1])
            patch = img[gr * ph:(gr + 1) * ph, gc * pw:(gc + 1) * pw]
            im.paste(Image.fromarray(patch).resize((tile, tile), Image.NEAREST), (x0, y0))
            name = str(p + 1)
        d.text((x0 + 2, y0 + tile), name, fill=(40, 40, 40), font=font)
    return im


def _data_uri(png_bytes: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes).decode()


def grid_frame(heat: np.ndarray, geo: att.ViTGeometry) -> pd.DataFrame:
    gh, gw = geo.grid_size
    r, c = np.divmod(np.arange(gh * gw), gw)
    flat = heat.reshape(-1)
    return pd.DataFrame({"patch": np.arange(gh * gw) + 1, "row": r + 1, "col": c + 1, "attention": flat,
                         "relative": stretched(flat)})


def stretched(values: np.ndarray) -> np.ndarray:
    """`values` stretched along their last axis from its minimum (0) to its maximum (1); a flat one stays 0."""
    lo = values.min(-1, keepdims=True)
    return (values - lo) / np.maximum(values.max(-1, keepdims=True) - lo, 1e-12)


def shown_picture(shown: np.ndarray) -> np.ndarray:
    """The image as the model sees it [H, W, 3] uint8, enlarged (whole pixels) to about CHART_PX."""
    return pic.upscale(pic.to_uint8(shown.transpose(1, 2, 0)), _factor(*shown.shape[1:]))


def clickable_attention(shown: np.ndarray, df: pd.DataFrame, geo: att.ViTGeometry, query_patch: int | None,
                        shown_png: bytes | None = None) -> alt.LayerChart:
    """The image with the query's attention as a translucent heat map; a click on a patch selects it.
    `shown_png`: shown_picture(shown) as PNG, if the caller has it already."""
    H, W = shown.shape[1:]
    width = CHART_PX
    height = round(CHART_PX * H / W)
    ph, pw = geo.patch_size
    cells = df.assign(x=(df.col - 1) * pw, x2=df.col * pw, y=(df.row - 1) * ph, y2=df.row * ph)
    xs = alt.Scale(domain=[0, W], nice=False, zero=False)
    ys = alt.Scale(domain=[0, H], nice=False, zero=False, reverse=True)
    picture = pd.DataFrame({"x": [0], "x2": [W], "y": [0], "y2": [H],
                            "url": [_data_uri(shown_png or png(shown_picture(shown)))]})
    image = alt.Chart(picture).mark_image(aspect=False).encode(
        x=alt.X("x:Q", scale=xs, axis=None), x2="x2", y=alt.Y("y:Q", scale=ys, axis=None), y2="y2", url="url:N")
    pick = alt.selection_point(name="patch", fields=["patch"], on="click", clear=False)
    heat = alt.Chart(cells).mark_rect(stroke="white", strokeWidth=0.3).encode(
        x=alt.X("x:Q", scale=xs, axis=None), x2="x2", y=alt.Y("y:Q", scale=ys, axis=None), y2="y2",
        color=alt.Color("attention:Q", scale=alt.Scale(scheme="inferno"), legend=None),
        opacity=alt.Opacity("relative:Q", scale=alt.Scale(domain=[0, 1], range=[0.0, 0.8]), legend=None),
        tooltip=[alt.Tooltip("patch:Q", title=t("attention.col.patch")),
                 alt.Tooltip("row:Q", title=t("attention.col.row")), alt.Tooltip("col:Q", title=t("attention.col.col")),
                 alt.Tooltip("attention:Q", format=".4f", title=t("attention.col.attention"))]).add_params(pick)
    layers = [image, heat]
    if query_patch is not None:
        q = cells[cells.patch == query_patch]
        layers.append(alt.Chart(q).mark_rect(fill=None, stroke="#00e5ff", strokeWidth=3).encode(
            x=alt.X("x:Q", scale=xs), x2="x2", y=alt.Y("y:Q", scale=ys), y2="y2"))
    return alt.layer(*layers).properties(width=width, height=height)


def head_maps(attn: np.ndarray, query: int, geo: att.ViTGeometry) -> tuple[np.ndarray, np.ndarray]:
    """One query's attention over the patch grid for every layer and head [L, H, gh, gw], and the same maps each
    stretched from its own minimum (0) to its maximum (1)."""
    maps = att.query_map(torch.from_numpy(attn), query, geo).numpy()
    return maps, stretched(maps.reshape(*maps.shape[:2], -1)).reshape(maps.shape)


def all_heads_frame(maps: np.ndarray, relative: np.ndarray) -> pd.DataFrame:
    """Long table (layer, head, row, col, attention, relative) of head_maps' two arrays."""
    idx = np.indices(maps.shape).reshape(4, -1)
    return pd.DataFrame({"layer": idx[0] + 1, "head": idx[1] + 1, "row": idx[2] + 1, "col": idx[3] + 1,
                         "attention": maps.reshape(-1), "relative": relative.reshape(-1)})


def heads_image(relative: np.ndarray, tile: int = 72, lang: str = messages.DEFAULT) -> np.ndarray:
    """head_maps' stretched maps [L, H, gh, gw] as one picture: a tile per (layer, head), rows = layers, columns =
    heads, labelled in `lang` in type that a projector still shows. A picture rather than a faceted chart: the
    browser draws L x H facets slowly on every change of the query."""
    L, Hh, gh, gw = relative.shape
    f = max(1, tile // max(gh, gw))
    tiles = pic.colormap(torch.from_numpy(relative).reshape(L * Hh, gh, gw))
    tiles = tiles.repeat_interleave(f, 1).repeat_interleave(f, 2)
    grid = pic.to_uint8(pic.tile_grid(tiles, cols=Hh, gap=4).numpy())
    font_px, left, top = 18, 80, 30
    im = Image.new("RGB", (left + grid.shape[1], top + grid.shape[0]), (255, 255, 255))
    im.paste(Image.fromarray(grid), (left, top))
    d, font = ImageDraw.Draw(im), _font(font_px, cjk=lang == "zh")
    th, tw = gh * f + 4, gw * f + 4
    if not labels_drawable(lang):
        return np.asarray(im)  # the page writes the labels beside it
    for h in range(Hh):
        d.text((left + h * tw + 4, 4), Message("attention.heads_image.head", {"n": h + 1}).text(lang),
               fill=(30, 30, 30), font=font)
    for layer in range(L):
        d.text((4, top + layer * th + (gh * f - font_px) // 2),
               Message("attention.heads_image.layer", {"n": layer + 1}).text(lang), fill=(30, 30, 30), font=font)
    return np.asarray(im)


def distance_chart(df: pd.DataFrame, uniform: float) -> alt.LayerChart:
    """Mean attention distance of every head against depth, with the uniform-attention baseline dashed."""
    heads = alt.Chart(df).mark_circle(size=70, opacity=0.8).encode(
        x=alt.X("layer:Q", title=t("attention.distance.x"), scale=alt.Scale(domain=[0.5, df.layer.max() + 0.5]),
                axis=alt.Axis(tickMinStep=1)),
        y=alt.Y("distance:Q", title=t("attention.distance.y"),
                scale=alt.Scale(domain=[0, max(float(df.distance.max()), uniform) * 1.1])),
        color=alt.Color("head:N", title=t("attention.col.head"),
                        scale=alt.Scale(scheme="dark2")),  # distinct hues, no light/dark pairs
        tooltip=[alt.Tooltip("layer:Q", title=t("attention.col.layer")),
                 alt.Tooltip("head:N", title=t("attention.col.head")),
                 alt.Tooltip("distance:Q", format=".1f", title=t("attention.col.distance"))])
    return alt.layer(uniform_rule(uniform), heads).properties(height=320)


def uniform_rule(uniform: float) -> alt.Chart:
    """The uniform-attention baseline a distance chart is read against: a dashed rule at `uniform` px."""
    return alt.Chart(pd.DataFrame({"distance": [uniform]})).mark_rule(strokeDash=[5, 4], color="#555").encode(
        y=alt.Y("distance:Q", title=t("attention.distance.y")),
        tooltip=[alt.Tooltip("distance:Q", format=".1f", title=t("attention.distance.uniform"))])


def similarity_tiles(sim: np.ndarray) -> np.ndarray:
    """[gh, gw, gh, gw] cosine similarities -> one RGB picture: a small tile per position, on the grid."""
    gh, gw = sim.shape[:2]
    tiles = pic.colormap((torch.from_numpy(sim).reshape(gh * gw, gh, gw) + 1) / 2)
    big = pic.tile_grid(tiles, cols=gw, gap=1).numpy()
    return pic.upscale(big, max(1, 420 // big.shape[1]))


def similarity_frame(sim: np.ndarray) -> pd.DataFrame:
    idx = np.indices(sim.shape).reshape(4, -1) + 1
    return pd.DataFrame({"query_row": idx[0], "query_col": idx[1], "key_row": idx[2], "key_col": idx[3],
                         "cosine": sim.reshape(-1)})


def overlay_image(shown: np.ndarray, heat: np.ndarray) -> np.ndarray:
    rgb = pic.overlay(torch.from_numpy(shown), torch.from_numpy(heat)).numpy()
    return pic.upscale(rgb, _factor(*rgb.shape[:2], 320))


def predictions(probs: np.ndarray, class_names) -> pd.DataFrame:
    """The top 5 classes (by their English names: the CSV's) and their probabilities."""
    return pd.DataFrame(models.top_k(torch.from_numpy(probs), class_names, 5), columns=["class", "probability"])


def shown_predictions(df: pd.DataFrame) -> pd.DataFrame:
    """predictions() as the session's language shows it: class names and column headers translated."""
    return pd.DataFrame({t("attention.col.class"): [name_of("shape", c) for c in df["class"]],
                         t("attention.col.probability"): df["probability"].to_numpy()})


def prediction_chart(df: pd.DataFrame) -> alt.Chart:
    shown = df.assign(label=[name_of("shape", c) for c in df["class"]])
    return alt.Chart(shown).mark_bar().encode(
        x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1]), title=t("attention.col.probability")),
        y=alt.Y("label:N", sort="-x", title=None, axis=alt.Axis(labelOverlap=False, labelFontSize=13, labelLimit=220)),
        tooltip=[alt.Tooltip("label:N", title=t("attention.col.class")),
                 alt.Tooltip("probability:Q", format=".3f", title=t("attention.col.probability"))]
    ).properties(height=220)


def download(frame, name: str, key: str) -> None:
    """A CSV of the table `frame()` (English column names and identifiers: data for scripts), labelled with its file
    name. The table is made and written when the button is pressed, not on every run (`frame` may be a DataFrame)."""
    make = frame if callable(frame) else lambda: frame
    st.download_button(t("attention.download", file=f"{name}.csv"), lambda: make().to_csv(index=False).encode(),
                       f"{name}.csv", "text/csv", key=key)


# --- page sections (called by pages/attention.py) --------------------------------------------------------------------
def cnn_section(lm, img_np: np.ndarray) -> None:
    """A CNN has no attention: its class activation map and prediction instead."""
    st.info(t("attention.cnn.info", name=lm.name))
    try:
        rgb, probs, cam_map = cam(lm.name, img_np)
    except ex.ExplainError as e:
        st.error(t("attention.cnn.no_cam", error=words(e)))
        return
    inputs = (lm.name, charts.digest(img_np))
    a, b = st.columns(2)
    with a:
        charts.image("attention.cam", inputs, lambda: pic.upscale(rgb, max(1, 320 // rgb.shape[0])), width=320,
                     caption=t("attention.cnn.cam_caption", rows=cam_map.shape[0], cols=cam_map.shape[1]))
    table = predictions(probs, lm.class_names)
    with b:
        charts.chart("attention.prediction", inputs, lambda: prediction_chart(table), width="stretch")
    download(table, "cnn_top5", "dl-cnn-top5")
    download(lambda: cam_frame(cam_map), "cam", "dl-cam")
    page_link("explain", t("attention.cnn.explain_link"))


def patches_section(res: Analysis) -> None:
    geo = res.geo
    st.header(t("attention.patches.header"))
    a, b = st.columns([1, 1.4])
    with a:
        charts.image("attention.patch_grid", res.inputs, lambda: patch_grid_image(res.shown, geo), width="stretch",
                     caption=t("attention.patches.grid_caption", rows=geo.grid_size[0], cols=geo.grid_size[1],
                               height=geo.patch_size[0], width=geo.patch_size[1]))
    with b:
        # two drawings of the sequence, one shown: in 16 a line its numbers are 6 px on a phone's 358-px column, so the
        # phone's has 10 a line in larger type
        st.html(TOKENS_CSS)
        caption = t("attention.patches.sequence_caption", prefix=_prefix_tokens(geo), patches=geo.num_patches,
                    tokens=geo.num_tokens)
        with st.container(key="att_tokens_wide"):
            charts.image("attention.tokens", res.inputs, lambda: token_sequence_image(res.shown, geo),
                         width="stretch", caption=caption)
        with st.container(key="att_tokens_narrow"):
            charts.image("attention.tokens_narrow", res.inputs, lambda: token_sequence_image(
                res.shown, geo, 10 if geo.num_tokens <= 80 else 16, font_px=16), width="stretch", caption=caption)


def _prefix_tokens(geo: att.ViTGeometry) -> Message | str:
    """The prefix tokens' names as one phrase ("" for none)."""
    return listing(geo.token_name(i) for i in range(geo.num_prefix_tokens))


def _token_param(geo: att.ViTGeometry, token: int) -> str:
    P = geo.num_prefix_tokens
    return geo.prefix_names[token] if token < P else str(token - P + 1)


def _token_from_param(geo: att.ViTGeometry, value) -> int:
    if value in geo.prefix_names:
        return geo.prefix_names.index(value)
    try:
        return geo.num_prefix_tokens + min(max(int(value), 1), geo.num_patches) - 1
    except (TypeError, ValueError):
        return 0


def _head_label(head) -> str:
    return t("attention.where.mean_heads") if head == "mean" else t("attention.where.head_n", n=head)


@st.fragment  # layer, head and query change only this section: rerun it alone
def where_section(res: Analysis) -> None:
    """One query token's attention in a chosen layer and head (click a patch to query it), and every head's."""
    geo, L, H = res.geo, res.attn.shape[0], res.attn.shape[1]
    P = geo.num_prefix_tokens
    ss = st.session_state
    bookmarks.seed("att-layer", "layer", lambda v: min(max(int(v), 1), L), L)
    bookmarks.seed("att-head", "head", int, "mean", lambda h: 1 <= h <= H)
    bookmarks.seed("att-query", "query", lambda v: _token_from_param(geo, v), _token_from_param(geo, "CLS"))

    def on_click():
        picked = ss["att-click"].selection.get("patch") or []
        if picked and "patch" in picked[0]:
            ss["att-query"] = P + int(picked[0]["patch"]) - 1

    st.header(t("attention.where.header"))
    w1, w2, w3 = st.columns(3)
    layer = w1.slider(t("attention.where.layer"), 1, L, key="att-layer")
    heads = ["mean"] + list(range(1, H + 1))
    head = w2.selectbox(t("attention.where.head"), heads, key="att-head", format_func=worded(heads, _head_label))
    tokens = range(geo.num_tokens)
    query = w3.selectbox(t("attention.where.query"), tokens, key="att-query",  # 65 or more names: worded once
                         format_func=charts.once("attention.token_names", (*res.inputs, current()),
                                                 lambda: worded(tokens, lambda q: words(geo.token_name(q)))))
    bookmarks.keep(layer=str(layer), head=str(head), query=_token_param(geo, query))

    layer_attn = res.attn[layer - 1]
    fused = att.fuse_heads(torch.from_numpy(layer_attn)).numpy() if head == "mean" else layer_attn[head - 1]

    def frame() -> pd.DataFrame:
        return grid_frame(att.query_map(torch.from_numpy(fused), query, geo).numpy(), geo)

    def clickable() -> alt.LayerChart:
        shown_png = charts.picture("attention.shown", res.inputs, lambda: shown_picture(res.shown))
        return clickable_attention(res.shown, frame(), geo, query - P + 1 if query >= P else None, shown_png)

    a, b = st.columns([1, 1.4])
    with a:
        charts.chart("attention.where", (*res.inputs, layer, head, query), clickable, width="content",
                     key="att-click", on_select=on_click, selection_mode="patch")
        to_prefix = fused[query, :P].sum()
        st.caption(t("attention.where.caption", layer=layer, head=_head_label(head), token=geo.token_name(query),
                     prefix=_prefix_tokens(geo), share=to_prefix))
        download(frame, f"attention_L{layer}_{head}_q{_token_param(geo, query)}", "dl-att")
    with b:
        st.markdown(t("attention.where.all_heads"))
        charts.image("attention.heads", (*res.inputs, query),
                     lambda: heads_image(head_maps(res.attn, query, geo)[1], lang=current()),
                     caption=t("attention.where.all_heads_caption"))
        if not labels_drawable(current()):
            st.markdown(t("attention.where.heads_legend", layers=L, heads=H))
        download(lambda: all_heads_frame(*head_maps(res.attn, query, geo)),
                 f"attention_all_heads_q{_token_param(geo, query)}", "dl-heads")


@st.fragment  # head fusion and discard ratio change only the rollout
def rollout_section(res: Analysis) -> None:
    """Attention rollout through all layers against the last layer's raw attention, for the class token."""
    geo, L, P = res.geo, res.attn.shape[0], res.geo.num_prefix_tokens
    st.header(t("attention.rollout.header"))
    st.caption(t("attention.rollout.caption"))
    r1, r2 = st.columns(2)
    fusions = ["mean", "max", "min"]
    fusion = r1.radio(t("attention.rollout.fusion"), fusions, horizontal=True, key="att-fusion",
                      format_func=worded(fusions, lambda f: t(f"attention.fusion.{f}")))
    discard = r2.slider(t("attention.rollout.discard"), 0.0, 0.95, 0.0, 0.05, key="att-discard")

    def roll() -> np.ndarray:
        return att.query_map(att.rollout(torch.from_numpy(res.attn), fusion, discard, P), 0, geo).numpy()

    def last() -> np.ndarray:
        return att.query_map(att.fuse_heads(torch.from_numpy(res.attn[-1])), 0, geo).numpy()

    a, b = st.columns(2)
    with a:
        charts.image("attention.rollout", (*res.inputs, fusion, discard), lambda: overlay_image(res.shown, roll()),
                     width=320, caption=t("attention.rollout.rollout_caption", layers=L,
                                          fusion=Message(f"attention.fusion.{fusion}"), discard=discard))
    with b:
        charts.image("attention.last_layer", res.inputs, lambda: overlay_image(res.shown, last()), width=320,
                     caption=t("attention.rollout.last_caption", layer=L))
    download(lambda: grid_frame(roll(), geo).rename(columns={"attention": "rollout"})
             .assign(last_layer=last().reshape(-1)), "rollout", "dl-rollout")


def fig7_section(lm, res: Analysis) -> None:
    """The ViT paper's Fig. 7 views of the picked model, with the uniform-attention baseline and a locality score."""
    st.header(t("attention.fig7.header"))
    st.caption(t("attention.fig7.caption"))
    pca, sim = embeddings(lm.name)
    f1, f2, f3 = st.columns(3)
    with f1:
        st.markdown(t("attention.fig7.pca_title"))
        if isinstance(pca, Message):
            st.info(words(pca))
        else:
            charts.image("attention.pca", (lm.name,), lambda: pca[0], width="stretch",
                         caption=t("attention.fig7.pca_caption", n=len(pca[1]), share=pca[1].sum()))
            download(lambda: pd.DataFrame({"pc": np.arange(len(pca[1])) + 1, "explained": pca[1]}),
                     "patch_embed_pca", "dl-pca")
    with f2:
        st.markdown(t("attention.fig7.sim_title"))
        if isinstance(sim, Message):
            st.info(words(sim))
        else:
            sim, locality = sim
            charts.image("attention.similarity", (lm.name,), lambda: similarity_tiles(sim), width="stretch",
                         caption=t("attention.fig7.sim_caption"))
            st.metric(t("attention.fig7.locality"), f"{locality:+.2f}", help=t("attention.fig7.locality_help"))
            download(lambda: similarity_frame(sim), "pos_embed_similarity", "dl-sim")
    with f3:
        _attention_distance(lm.name, res)


@st.fragment  # "over this image / 32 images" changes only this chart
def _attention_distance(model_name: str, res: Analysis) -> None:
    geo, P = res.geo, res.geo.num_prefix_tokens
    st.markdown(t("attention.distance.title"))
    overs = ["this image", "32 sample images"]
    over = st.radio(t("attention.distance.over"), overs, horizontal=True, key="att-over",
                    format_func=worded(overs, lambda o: t("attention.distance.this_image" if o == "this image"
                                                          else "attention.distance.samples")))
    if over == "this image":
        dist = charts.once("attention.distance_this", res.inputs, lambda: att.mean_attention_distance(
            torch.from_numpy(res.attn), geo.grid_size, geo.patch_size, P).numpy())
    else:
        dist = batch_distance(model_name)

    def dist_df() -> pd.DataFrame:
        idx = np.indices(dist.shape).reshape(2, -1) + 1
        return pd.DataFrame({"layer": idx[0], "head": idx[1], "distance": dist.reshape(-1)})

    uniform = att.uniform_attention_distance(geo.grid_size, geo.patch_size, P)
    charts.chart("attention.distance", (*res.inputs, over), lambda: distance_chart(dist_df(), uniform), width="stretch")
    download(dist_df, "mean_attention_distance", "dl-dist")
    st.caption(words(att.distance_reading(dist, uniform)))


def prediction_section(lm, res: Analysis) -> None:
    st.header(t("attention.prediction.header"))
    table = charts.once("attention.top5", res.inputs, lambda: predictions(res.probs, lm.class_names))
    a, b = st.columns([1.4, 1])
    with a:
        charts.chart("attention.prediction", res.inputs, lambda: prediction_chart(table), width="stretch")
    b.dataframe(charts.arrow("attention.top5", res.inputs, lambda: shown_predictions(table)), hide_index=True)
    download(table, "top5", "dl-top5")


# --- every embedded ViT side by side: the same architecture after other data -----------------------------------------
def embedded_vits() -> list[str]:
    return [n for n, spec in models.EMBEDDED.items() if spec.kind == "vit"]


@st.cache_resource(max_entries=2, show_spinner=False)  # read, never changed: no copy per run
def vit_comparison(names: tuple[str, ...]) -> tuple[pd.DataFrame, pd.DataFrame, float, list[str]]:
    """core.attention.vit_comparison of these models (cached), each with its distances over the 32 sample images,
    its two tables as frames."""
    vits = {}
    for name in names:
        try:
            vits[name] = cached_model(name), _batch_distance(name)
        except models.ModelError:
            vits[name] = None
    rows, layers, uniform, missing = att.vit_comparison(vits)
    return pd.DataFrame(rows), pd.DataFrame(layers), uniform, missing


def comparison_chart(layers: pd.DataFrame, uniform: float) -> alt.LayerChart:
    """Mean attention distance per layer (mean over heads), a line per model in its own colour."""
    lines = alt.Chart(layers).mark_line(point=True).encode(
        x=alt.X("layer:Q", title=t("attention.distance.x"), axis=alt.Axis(tickMinStep=1),
                scale=alt.Scale(domain=[1, int(layers.layer.max())])),
        y=alt.Y("distance:Q", title=t("attention.distance.y"),
                scale=alt.Scale(domain=[0, max(float(layers.distance.max()), uniform) * 1.1])),
        color=alt.Color("model:N", title=t("attention.compare.model"), scale=colour_scale(layers.model.unique())),
        tooltip=[alt.Tooltip("model:N", title=t("attention.compare.model")),
                 alt.Tooltip("layer:Q", title=t("attention.col.layer")),
                 alt.Tooltip("distance:Q", format=".1f", title=t("attention.col.distance"))])
    return alt.layer(uniform_rule(uniform), lines).properties(height=320)  # room for the axis title in projector type


def trained_on(row) -> str:
    """'2,000 images, shifted ±8 px' / '60,000 images near the centre' in the session's language."""
    what = t("attention.compare.images", images=row["images"])
    if row["augment_px"]:
        what += t("attention.compare.shifted", px=row["augment_px"])
    if row["region"] == "center":
        what += t("attention.compare.centre")
    return what


def compare_section() -> None:
    st.header(t("attention.compare.header"))
    st.caption(t("attention.compare.caption"))
    names = tuple(embedded_vits())
    with st.spinner(t("attention.spinner.distance")):
        table, layers, uniform, missing = vit_comparison(names)
    if missing:
        st.info(t("attention.compare.missing", models=listing(missing)))
    if table.empty:
        return
    charts.chart("attention.compare", names, lambda: comparison_chart(layers, uniform), width="stretch")
    model = {t("attention.compare.model"): table.model}
    # two tables, each led by the model (whole: 'vit-aug-2k', not broken at its hyphens), that wrap their other cells:
    # side by side on a laptop, one under the other and inside a 390-px phone's width (one five-column table
    # scrolled sideways there)
    st.html('<style>.st-key-att_vits td:first-child p { white-space: nowrap; }</style>')
    data, locality = st.container(key="att_vits").columns([3, 2], gap="medium")
    with data:
        charts.table("attention.vits_data", (names, *missing), lambda: pd.DataFrame({
            **model, t("attention.compare.trained_on"): [trained_on(r) for _, r in table.iterrows()],
            t("attention.compare.accuracy"): table.accuracy.map("{:.1%}".format)}), hide_index=True)
    with locality:
        charts.table("attention.vits_locality", (names, *missing), lambda: pd.DataFrame({
            **model, t("attention.compare.locality"): table.locality.map("{:+.2f}".format),
            t("attention.compare.learnt"): table.learnt_locality.map("{:+.2f}".format)}), hide_index=True)
    st.info(words(charts.once("attention.vits_reading", (names, *missing), lambda: att.comparison_reading(
        table.to_dict("records"), layers.to_dict("records"), uniform))))
    download(lambda: table.merge(layers.pivot(index="model", columns="layer", values="distance")
                                 .add_prefix("mad_layer_").reset_index(), on="model"), "vit_comparison", "dl-vits")
    for augmented, plain in models.augmentation_pairs():  # the same pair, swept across the frame
        if {augmented, plain} <= set(table.model):
            st.markdown(t("attention.compare.link_sensitivity", augmented=augmented, plain=plain))
