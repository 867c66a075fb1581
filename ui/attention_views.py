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
from core.cam import CAMError, class_activation_map
from core import models
from core import pictures as pic
from core import shapes
from ui import bookmarks, compute, png, present
from ui.models import cached_model

CHART_PX = 384  # display width of the clickable image
DEFAULTS = {"model": "vit", "image": "one star (64×64)"}


@dataclass
class Analysis:
    geo: att.ViTGeometry
    shown: np.ndarray  # [3, H, W] in [0, 1]: the image as the model sees it
    attn: np.ndarray  # [L, H, N, N]
    probs: np.ndarray  # [classes]


@st.cache_data(max_entries=8, ttl="15m", show_spinner="Running the ViT…")
def analyse(model_name: str, img: np.ndarray) -> Analysis:
    return compute.run(_analyse, cached_model(model_name), img)


def warm_up() -> None:
    """The default view's results, computed before the first visitor asks (ui/warmup.py)."""
    from ui.images import sample

    analyse(DEFAULTS["model"], sample(DEFAULTS["image"]).numpy())
    embeddings(DEFAULTS["model"])


def _analyse(lm, img: np.ndarray) -> Analysis:
    x = lm.preprocess(torch.from_numpy(img))
    attn, logits = att.attention_and_logits(lm.net, x)
    shown = pic.denormalize(x, lm.mean, lm.std)[0]
    return Analysis(att.vit_geometry(lm.net, x.shape[-2:]), shown.numpy(), attn[0].numpy(),
                    logits.softmax(-1)[0].numpy())


@st.cache_data(max_entries=8, show_spinner="Mean attention distance over 32 sample images…")
def batch_distance(model_name: str, n: int = 32) -> np.ndarray:
    lm = cached_model(model_name)
    images, _, _ = shapes.make_dataset(n, seed=0)
    return compute.run(lambda: att.attention_distance_over(lm.net, lm.preprocess(images)).numpy())


@st.cache_data(max_entries=8, show_spinner=False)
def embeddings(model_name: str):
    """(PCA tiles image, explained ratios, pos-embed similarity [gh, gw, gh, gw]) or an error message."""
    net = cached_model(model_name).net
    try:
        comps, ratio = att.patch_embed_pca(net, 28)
        tiles = pic.tile_grid(pic.filters_to_rgb(comps), cols=7)
        pca = (pic.upscale(tiles.numpy(), 256 // max(tiles.shape[:2]) + 1), ratio.numpy())
    except att.AttentionError as e:
        pca = str(e)
    try:
        sim = att.pos_embed_similarity(net).numpy()
    except att.AttentionError as e:
        sim = str(e)
    return pca, sim


@st.cache_data(max_entries=16, show_spinner="Class activation map…")
def cam(model_name: str, img: np.ndarray):
    return compute.run(_cam, cached_model(model_name), img)


def _cam(lm, img: np.ndarray):
    x = lm.preprocess(torch.from_numpy(img))
    cam_map, logits = class_activation_map(lm.net, x)
    shown = pic.denormalize(x, lm.mean, lm.std)[0]
    return pic.overlay(shown, cam_map[0]).numpy(), logits.softmax(-1)[0].numpy(), cam_map[0].numpy()


def cam_frame(cam_map: np.ndarray) -> pd.DataFrame:
    idx = np.indices(cam_map.shape).reshape(2, -1) + 1
    return pd.DataFrame({"row": idx[0], "col": idx[1], "cam": cam_map.reshape(-1)})


def _font(size: int):
    return ImageFont.load_default(size=max(8, size))


def _factor(h: int, w: int, target: int = CHART_PX) -> int:
    return max(1, target // max(h, w))


def patch_grid_image(shown: np.ndarray, geo: att.ViTGeometry) -> Image.Image:
    """The image with the patch grid drawn over it and every patch numbered (1 = top-left)."""
    f = max(_factor(*shown.shape[1:]), -(-32 // min(geo.patch_size)))  # patches at least 32 px
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


def token_sequence_image(shown: np.ndarray, geo: att.ViTGeometry, per_line: int | None = None) -> Image.Image:
    """The prefix tokens, then every patch in reading order, as a wrapped sequence of numbered tiles."""
    tile = 36
    label_h, gap = 14, 4
    n = geo.num_tokens
    per_line = min(per_line or (16 if n <= 80 else 24), n)
    rows = -(-n // per_line)
    im = Image.new("RGB", (per_line * (tile + gap), rows * (tile + label_h + gap)), (255, 255, 255))
    d = ImageDraw.Draw(im)
    font = _font(11)
    ph, pw = geo.patch_size
    img = pic.to_uint8(shown.transpose(1, 2, 0))
    for t in range(n):
        r, c = divmod(t, per_line)
        x0, y0 = c * (tile + gap), r * (tile + label_h + gap)
        if t < geo.num_prefix_tokens:
            name = geo.prefix_names[t]
            d.rectangle([x0, y0, x0 + tile - 1, y0 + tile - 1], fill=(70, 90, 160))
            d.text((x0 + 3, y0 + tile // 2 - 6), name[:5], fill=(255, 255, 255), font=font)
        else:
            p = t - geo.num_prefix_tokens
            gr, gc = divmod(p, geo.grid_size[1])
            patch = img[gr * ph:(gr + 1) * ph, gc * pw:(gc + 1) * pw]
            im.paste(Image.fromarray(patch).resize((tile, tile), Image.NEAREST), (x0, y0))
            name = str(p + 1)
        d.text((x0 + 2, y0 + tile), name, fill=(40, 40, 40), font=font)
    return im


def _data_uri(rgb: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(png(pic.to_uint8(rgb))).decode()


def grid_frame(heat: np.ndarray, geo: att.ViTGeometry) -> pd.DataFrame:
    gh, gw = geo.grid_size
    r, c = np.divmod(np.arange(gh * gw), gw)
    flat = heat.reshape(-1)
    return pd.DataFrame({"patch": np.arange(gh * gw) + 1, "row": r + 1, "col": c + 1, "attention": flat,
                         "relative": (flat - flat.min()) / max(float(flat.max() - flat.min()), 1e-12)})


def clickable_attention(shown: np.ndarray, df: pd.DataFrame, geo: att.ViTGeometry, query_patch: int | None
                        ) -> alt.LayerChart:
    """The image with the query's attention as a translucent heat map; a click on a patch selects it."""
    H, W = shown.shape[1:]
    width = CHART_PX
    height = round(CHART_PX * H / W)
    ph, pw = geo.patch_size
    cells = df.assign(x=(df.col - 1) * pw, x2=df.col * pw, y=(df.row - 1) * ph, y2=df.row * ph)
    xs = alt.Scale(domain=[0, W], nice=False, zero=False)
    ys = alt.Scale(domain=[0, H], nice=False, zero=False, reverse=True)
    picture = pd.DataFrame({"x": [0], "x2": [W], "y": [0], "y2": [H],
                            "url": [_data_uri(pic.upscale(shown.transpose(1, 2, 0), _factor(H, W)))]})
    image = alt.Chart(picture).mark_image(aspect=False).encode(
        x=alt.X("x:Q", scale=xs, axis=None), x2="x2", y=alt.Y("y:Q", scale=ys, axis=None), y2="y2", url="url:N")
    pick = alt.selection_point(name="patch", fields=["patch"], on="click", clear=False)
    heat = alt.Chart(cells).mark_rect(stroke="white", strokeWidth=0.3).encode(
        x=alt.X("x:Q", scale=xs, axis=None), x2="x2", y=alt.Y("y:Q", scale=ys, axis=None), y2="y2",
        color=alt.Color("attention:Q", scale=alt.Scale(scheme="inferno"), legend=None),
        opacity=alt.Opacity("relative:Q", scale=alt.Scale(domain=[0, 1], range=[0.0, 0.8]), legend=None),
        tooltip=["patch", "row", "col", alt.Tooltip("attention:Q", format=".4f")]).add_params(pick)
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
    flat = maps.reshape(*maps.shape[:2], -1)
    lo = flat.min(-1)[..., None, None]
    span = np.maximum(flat.max(-1)[..., None, None] - lo, 1e-12)
    return maps, (maps - lo) / span


def all_heads_frame(maps: np.ndarray, relative: np.ndarray) -> pd.DataFrame:
    """Long table (layer, head, row, col, attention, relative) of head_maps' two arrays."""
    idx = np.indices(maps.shape).reshape(4, -1)
    return pd.DataFrame({"layer": idx[0] + 1, "head": idx[1] + 1, "row": idx[2] + 1, "col": idx[3] + 1,
                         "attention": maps.reshape(-1), "relative": relative.reshape(-1)})


def heads_image(relative: np.ndarray, tile: int = 72) -> np.ndarray:
    """head_maps' stretched maps [L, H, gh, gw] as one picture: a tile per (layer, head), rows = layers, columns =
    heads, labelled in type that a projector still shows. A picture rather than a faceted chart: the browser draws
    L x H facets slowly on every change of the query."""
    L, Hh, gh, gw = relative.shape
    f = max(1, tile // max(gh, gw))
    tiles = pic.colormap(torch.from_numpy(relative).reshape(L * Hh, gh, gw))
    tiles = tiles.repeat_interleave(f, 1).repeat_interleave(f, 2)
    grid = pic.to_uint8(pic.tile_grid(tiles, cols=Hh, gap=4).numpy())
    font_px, left, top = 18, 80, 30
    im = Image.new("RGB", (left + grid.shape[1], top + grid.shape[0]), (255, 255, 255))
    im.paste(Image.fromarray(grid), (left, top))
    d, font = ImageDraw.Draw(im), _font(font_px)
    th, tw = gh * f + 4, gw * f + 4
    for h in range(Hh):
        d.text((left + h * tw + 4, 4), f"head {h + 1}", fill=(30, 30, 30), font=font)
    for layer in range(L):
        d.text((4, top + layer * th + (gh * f - font_px) // 2), f"layer {layer + 1}", fill=(30, 30, 30), font=font)
    return np.asarray(im)


def distance_chart(df: pd.DataFrame, uniform: float) -> alt.LayerChart:
    """Mean attention distance of every head against depth, with the uniform-attention baseline dashed."""
    heads = alt.Chart(df).mark_circle(size=70, opacity=0.8).encode(
        x=alt.X("layer:Q", title="network depth (layer)", scale=alt.Scale(domain=[0.5, df.layer.max() + 0.5]),
                axis=alt.Axis(tickMinStep=1)),
        y=alt.Y("distance:Q", title="mean attention distance (pixels)",
                scale=alt.Scale(domain=[0, max(float(df.distance.max()), uniform) * 1.1])),
        color=alt.Color("head:N", title="head", scale=alt.Scale(scheme="dark2")),  # distinct hues, no light/dark pairs
        tooltip=["layer", "head", alt.Tooltip("distance:Q", format=".1f")])
    base = alt.Chart(pd.DataFrame({"distance": [uniform]})).mark_rule(strokeDash=[5, 4], color="#555").encode(
        y="distance:Q", tooltip=[alt.Tooltip("distance:Q", format=".1f", title="uniform attention (px)")])
    return alt.layer(base, heads).properties(height=320)


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
    return pd.DataFrame(models.top_k(torch.from_numpy(probs), class_names, 5), columns=["class", "probability"])


def prediction_chart(df: pd.DataFrame) -> alt.Chart:
    return alt.Chart(df).mark_bar().encode(
        x=alt.X("probability:Q", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("class:N", sort="-x", title=None, axis=alt.Axis(labelOverlap=False, labelFontSize=13, labelLimit=220)),
        tooltip=["class", alt.Tooltip("probability:Q", format=".3f")]).properties(height=220)


def download(df: pd.DataFrame, name: str, key: str) -> None:
    st.download_button(f"⬇ {name}.csv", df.to_csv(index=False).encode(), f"{name}.csv", "text/csv", key=key)


# --- page sections (called by pages/attention.py) --------------------------------------------------------------------
def cnn_section(lm, img_np: np.ndarray) -> None:
    """A CNN has no attention: its class activation map and prediction instead."""
    st.info(f"**{lm.name}** is a CNN, not a Vision Transformer: it has no patches and no attention. Below is its "
            "class activation map (CAM: the last convolution's features weighted by the classifier's weights for the top class), the closest "
            "CNN analogue of 'where it looks'. Pick a ViT to see attention.")
    try:
        rgb, probs, cam_map = cam(lm.name, img_np)
    except CAMError as e:
        st.error(f"No CAM for this model: {e}")
        return
    a, b = st.columns(2)
    a.image(pic.upscale(rgb, max(1, 320 // rgb.shape[0])), width=320,
            caption=f"CAM of the top class: {cam_map.shape[0]}×{cam_map.shape[1]} feature cells, one block each")
    table = predictions(probs, lm.class_names)
    b.altair_chart(prediction_chart(table), width="stretch")
    download(table, "cnn_top5", "dl-cnn-top5")
    download(cam_frame(cam_map), "cam", "dl-cam")


def patches_section(res: Analysis) -> None:
    geo = res.geo
    st.header("1 · Each patch is a word")
    a, b = st.columns([1, 1.4])
    a.image(patch_grid_image(res.shown, geo), width="stretch",
            caption=f"{geo.grid_size[0]}×{geo.grid_size[1]} patches of {geo.patch_size[0]}×{geo.patch_size[1]} px")
    b.image(token_sequence_image(res.shown, geo), width="stretch",
            caption=f"The token sequence the transformer reads: {', '.join(geo.prefix_names)} first, then the "
                    f"{geo.num_patches} patches in reading order ({geo.num_tokens} tokens)")


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

    st.header("2 · Where does a token look?")
    w1, w2, w3 = st.columns(3)
    layer = w1.slider("Layer", 1, L, key="att-layer")
    head = w2.selectbox("Head", ["mean"] + list(range(1, H + 1)), key="att-head",
                        format_func=lambda h: "mean over heads" if h == "mean" else f"head {h}")
    query = w3.selectbox("Query token (or click a patch)", range(geo.num_tokens), key="att-query",
                         format_func=geo.token_name)
    st.query_params.update(layer=str(layer), head=str(head), query=_token_param(geo, query))

    layer_attn = res.attn[layer - 1]
    fused = att.fuse_heads(torch.from_numpy(layer_attn)).numpy() if head == "mean" else layer_attn[head - 1]
    heat = att.query_map(torch.from_numpy(fused), query, geo).numpy()
    frame = grid_frame(heat, geo)
    a, b = st.columns([1, 1.4])
    with a:
        present.chart(clickable_attention(res.shown, frame, geo, query - P + 1 if query >= P else None),
                      width="content", key="att-click", on_select=on_click, selection_mode="patch")
        to_prefix = fused[query, :P].sum()
        st.caption(f"Layer {layer}, {'mean over heads' if head == 'mean' else f'head {head}'}, query "
                   f"**{geo.token_name(query)}** (outlined). Its attention to the prefix tokens "
                   f"({', '.join(geo.prefix_names)}): {to_prefix:.1%}; the map shows the rest, brighter and more opaque "
                   "= more attention (hover a patch for its value, click it to make it the query).")
        download(frame, f"attention_L{layer}_{head}_q{_token_param(geo, query)}", "dl-att")
    with b:
        st.markdown("**Every head of every layer, same query**")
        maps, relative = head_maps(res.attn, query, geo)
        st.image(png(heads_image(relative)), output_format="PNG",
                 caption="Each tile stretched from its own minimum (dark blue) to its maximum (yellow).")
        download(all_heads_frame(maps, relative), f"attention_all_heads_q{_token_param(geo, query)}", "dl-heads")


@st.fragment  # head fusion and discard ratio change only the rollout
def rollout_section(res: Analysis) -> None:
    """Attention rollout through all layers against the last layer's raw attention, for the class token."""
    geo, L, P = res.geo, res.attn.shape[0], res.geo.num_prefix_tokens
    st.header("3 · Attention rollout")
    st.caption("Rollout (Abnar & Zuidema 2020) follows attention through all layers: fuse the heads, add the "
               "residual connection as identity, re-normalise and multiply the layers. Shown for the class-token query.")
    r1, r2 = st.columns(2)
    fusion = r1.radio("Head fusion", ["mean", "max", "min"], horizontal=True, key="att-fusion")
    discard = r2.slider("Discard ratio (drop the weakest attention links)", 0.0, 0.95, 0.0, 0.05, key="att-discard")
    joint = att.rollout(torch.from_numpy(res.attn), fusion, discard, P)
    roll = att.query_map(joint, 0, geo).numpy()
    last = att.query_map(att.fuse_heads(torch.from_numpy(res.attn[-1])), 0, geo).numpy()
    a, b = st.columns(2)
    a.image(overlay_image(res.shown, roll), caption=f"Rollout over {L} layers ({fusion}, discard {discard:.0%})",
            width=320)
    b.image(overlay_image(res.shown, last), caption=f"Raw attention of layer {L} (mean over heads)", width=320)
    download(grid_frame(roll, geo).rename(columns={"attention": "rollout"}).assign(last_layer=last.reshape(-1)),
             "rollout", "dl-rollout")


def fig7_section(lm, res: Analysis) -> None:
    """The ViT paper's Fig. 7 views of the picked model, with the uniform-attention baseline and a locality score."""
    geo, P = res.geo, res.geo.num_prefix_tokens
    st.header("4 · Inside the ViT (Fig. 7 of Dosovitskiy et al. 2021)")
    st.caption("What the paper found for large ViTs pre-trained on JFT-300M (300M images): the patch-embedding filters "
               "look like basis functions for fine structure; nearby patches have similar position embeddings (2-D "
               "structure learnt from data); some heads attend locally in the lowest layers and the mean attention "
               "distance grows with depth. Below, the same three views of the model picked above, which need not show "
               "them (the embedded ViTs saw 60,000 shapes); the numbers under the charts say what it does show.")
    pca, sim = embeddings(lm.name)
    f1, f2, f3 = st.columns(3)
    with f1:
        st.markdown("**Patch-embedding filters: principal components**")
        if isinstance(pca, str):
            st.info(pca)
        else:
            st.image(pca[0], width="stretch", caption=f"First {len(pca[1])} PCs as RGB tiles "
                                                     f"({pca[1].sum():.0%} of the filters' variance)")
            download(pd.DataFrame({"pc": np.arange(len(pca[1])) + 1, "explained": pca[1]}),
                           "patch_embed_pca", "dl-pca")
    with f2:
        st.markdown("**Position embeddings: cosine similarity**")
        if isinstance(sim, str):
            st.info(sim)
        else:
            st.image(similarity_tiles(sim), width="stretch",
                     caption="One tile per patch position: its similarity to every position "
                             "(yellow = +1, orange, purple, dark blue = −1)")
            locality = att.pos_embed_locality(lm.net)
            st.metric("Locality", f"{locality:+.2f}",
                      help="Correlation between two patches' position-embedding similarity and their closeness on the "
                           "grid, over all pairs: near +1 when nearby patches are most alike, near 0 for no 2-D "
                           "structure (random embeddings), negative when distant patches are more alike.")
            download(similarity_frame(sim), "pos_embed_similarity", "dl-sim")
    with f3:
        _attention_distance(lm.name, res)


@st.fragment  # "over this image / 32 images" changes only this chart
def _attention_distance(model_name: str, res: Analysis) -> None:
    geo, P = res.geo, res.geo.num_prefix_tokens
    st.markdown("**Mean attention distance per head**")
    over = st.radio("Over", ["this image", "32 sample images"], horizontal=True, key="att-over")
    if over == "this image":
        dist = att.mean_attention_distance(torch.from_numpy(res.attn), geo.grid_size, geo.patch_size, P).numpy()
    else:
        dist = batch_distance(model_name)
    idx = np.indices(dist.shape).reshape(2, -1) + 1
    dist_df = pd.DataFrame({"layer": idx[0], "head": idx[1], "distance": dist.reshape(-1)})
    uniform = att.uniform_attention_distance(geo.grid_size, geo.patch_size, P)
    present.chart(distance_chart(dist_df, uniform), width="stretch")
    download(dist_df, "mean_attention_distance", "dl-dist")
    per_layer = dist.mean(1)
    st.caption(f"Dashed: {uniform:.1f} px, what attention spread evenly over all tokens would give. Here the layers' "
               f"means run {per_layer[0]:.1f} px (layer 1) to {per_layer[-1]:.1f} px (layer {len(per_layer)}), heads "
               f"{dist.min():.1f}–{dist.max():.1f} px. The class token's share of attention is left out, not "
               "renormalised away, so a head that attends mostly to it has a small distance.")


def prediction_section(lm, res: Analysis) -> None:
    st.header("5 · Prediction")
    table = predictions(res.probs, lm.class_names)
    a, b = st.columns([1.4, 1])
    a.altair_chart(prediction_chart(table), width="stretch")
    b.dataframe(table, hide_index=True)
    download(table, "top5", "dl-top5")
