"""ViT patches & attention: patches as words, attention per layer and head, rollout, and the ViT paper's Fig. 7."""
import numpy as np
import pandas as pd
import streamlit as st
import torch

from core import attention as att
from core import pictures as pic
from ui import attention_views as views
from ui import bookmarks, require_entry
from ui.images import image_picker
from ui.models import model_picker

require_entry()

st.title("ViT patches & attention")
st.caption("A Vision Transformer cuts the image into square patches, turns each into a vector (a 'word') and lets "
           "every token look at every other one through attention. Nothing tells it which patches are neighbours "
           "except the position embeddings it learns; a CNN gets locality for free.")

c1, c2 = st.columns(2)
with c1:
    lm = model_picker("Model", default="vit", key="model")
with c2:
    img = image_picker("att-image", default="one star (64×64)")
if lm is None or img is None:
    st.stop()
img_np = img.numpy()

if lm.kind != "vit":
    st.info(f"**{lm.name}** is a CNN, not a Vision Transformer: it has no patches and no attention. Below is its class activation map (CAM: "
            "the last convolution's features weighted by the classifier's weights for the top class), the closest "
            "CNN analogue of 'where it looks'. Pick a ViT to see attention.")
    try:
        rgb, probs, cam_map = views.cam(lm.name, img_np)
    except att.AttentionError as e:
        st.error(f"No CAM for this model: {e}")
        st.stop()
    a, b = st.columns(2)
    a.image(pic.upscale(rgb, max(1, 320 // rgb.shape[0])), width=320,
            caption=f"CAM of the top class: {cam_map.shape[0]}×{cam_map.shape[1]} feature cells, one block each")
    table = views.predictions(probs, lm.class_names)
    b.altair_chart(views.prediction_chart(table), width="stretch")
    views.download(table, "cnn_top5", "dl-cnn-top5")
    views.download(views.cam_frame(cam_map), "cam", "dl-cam")
    st.stop()

try:
    res = views.analyse(lm.name, img_np)
except att.AttentionError as e:
    st.error(f"Cannot read attention from **{lm.name}**: {e}")
    st.stop()
geo, L, H = res.geo, res.attn.shape[0], res.attn.shape[1]
P = geo.num_prefix_tokens


def _token_param(token: int) -> str:
    return geo.prefix_names[token] if token < P else str(token - P + 1)


def _token_from_param(value) -> int:
    if value in geo.prefix_names:
        return geo.prefix_names.index(value)
    try:
        return P + min(max(int(value), 1), geo.num_patches) - 1
    except (TypeError, ValueError):
        return 0


# Bookmarkable state: query params seed the widgets once, then follow them; another model seeds them again
ss = st.session_state
if ss.get("att-model") != lm.name:
    for k in ("att-layer", "att-head", "att-query"):
        ss.pop(k, None)
    ss["att-model"] = lm.name
bookmarks.seed("att-layer", "layer", lambda v: min(max(int(v), 1), L), L)
bookmarks.seed("att-head", "head", int, "mean", lambda h: 1 <= h <= H)
bookmarks.seed("att-query", "query", _token_from_param, _token_from_param("CLS"))


def _on_click():
    picked = ss["att-click"].selection.get("patch") or []
    if picked and "patch" in picked[0]:
        ss["att-query"] = P + int(picked[0]["patch"]) - 1


st.header("1 · Each patch is a word")
a, b = st.columns([1, 1.4])
a.image(views.patch_grid_image(res.shown, geo), width="stretch",
        caption=f"{geo.grid_size[0]}×{geo.grid_size[1]} patches of {geo.patch_size[0]}×{geo.patch_size[1]} px")
b.image(views.token_sequence_image(res.shown, geo), width="stretch",
        caption=f"The token sequence the transformer reads: {', '.join(geo.prefix_names)} first, then the "
                f"{geo.num_patches} patches in reading order ({geo.num_tokens} tokens)")

st.header("2 · Where does a token look?")
w1, w2, w3 = st.columns(3)
layer = w1.slider("Layer", 1, L, key="att-layer")
head = w2.selectbox("Head", ["mean"] + list(range(1, H + 1)), key="att-head",
                    format_func=lambda h: "mean over heads" if h == "mean" else f"head {h}")
query = w3.selectbox("Query token (or click a patch)", range(geo.num_tokens), key="att-query",
                     format_func=geo.token_name)
st.query_params.update(layer=str(layer), head=str(head), query=_token_param(query))

layer_attn = res.attn[layer - 1]
fused = layer_attn.mean(0) if head == "mean" else layer_attn[head - 1]
heat = att.query_map(torch.from_numpy(fused), query, geo).numpy()
frame = views.grid_frame(heat, geo)
a, b = st.columns([1, 1.4])
with a:
    st.altair_chart(views.clickable_attention(res.shown, frame, geo, query - P + 1 if query >= P else None),
                    width="content", key="att-click", on_select=_on_click, selection_mode="patch")
    to_prefix = fused[query, :P].sum()
    st.caption(f"Layer {layer}, {'mean over heads' if head == 'mean' else f'head {head}'}, query "
               f"**{geo.token_name(query)}** (outlined). Its attention to the prefix tokens "
               f"({', '.join(geo.prefix_names)}): {to_prefix:.1%}; the map shows the rest, brighter and more opaque = "
               "more attention (hover a patch for its value, click it to make it the query).")
    views.download(frame, f"attention_L{layer}_{head}_q{_token_param(query)}", "dl-att")
with b:
    st.markdown("**Every head of every layer, same query** (each tile stretched from its own minimum to maximum)")
    heads = views.all_heads_frame(res.attn, query, geo)
    st.altair_chart(views.small_multiples(heads, geo), width="content")
    views.download(heads, f"attention_all_heads_q{_token_param(query)}", "dl-heads")

st.header("3 · Attention rollout")
st.caption("Rollout (Abnar & Zuidema 2020) follows attention through all layers: fuse the heads, add the "
           "residual connection as identity, re-normalise and multiply the layers. Shown for the class-token query.")
r1, r2 = st.columns(2)
fusion = r1.radio("Head fusion", ["mean", "max", "min"], horizontal=True, key="att-fusion")
discard = r2.slider("Discard ratio (drop the weakest attention links)", 0.0, 0.95, 0.0, 0.05, key="att-discard")
joint = att.rollout(torch.from_numpy(res.attn), fusion, discard, P)
roll = att.query_map(joint, 0, geo).numpy()
last = att.query_map(torch.from_numpy(res.attn[-1].mean(0)), 0, geo).numpy()
a, b = st.columns(2)
a.image(views.overlay_image(res.shown, roll), caption=f"Rollout over {L} layers ({fusion}, discard {discard:.0%})",
        width=320)
b.image(views.overlay_image(res.shown, last), caption=f"Raw attention of layer {L} (mean over heads)", width=320)
views.download(views.grid_frame(roll, geo).rename(columns={"attention": "rollout"})
               .assign(last_layer=last.reshape(-1)), "rollout", "dl-rollout")

st.header("4 · Inside the ViT (Fig. 7 of Dosovitskiy et al. 2021)")
st.caption("What the paper found for large ViTs pre-trained on JFT-300M (300M images): the patch-embedding filters "
           "look like basis functions for fine structure; nearby patches have similar position embeddings (2-D "
           "structure learnt from data); some heads attend locally in the lowest layers and the mean attention "
           "distance grows with depth. Below, the same three views of the model picked above: a small model "
           "trained on 60,000 shapes need not show them, and the reading under the charts says what it does show.")
pca, sim = views.embeddings(lm.name)
f1, f2, f3 = st.columns(3)
with f1:
    st.markdown("**Patch-embedding filters: principal components**")
    if isinstance(pca, str):
        st.info(pca)
    else:
        st.image(pca[0], width="stretch", caption=f"First {len(pca[1])} PCs as RGB tiles "
                                                 f"({pca[1].sum():.0%} of the filters' variance)")
        views.download(pd.DataFrame({"pc": np.arange(len(pca[1])) + 1, "explained": pca[1]}),
                       "patch_embed_pca", "dl-pca")
with f2:
    st.markdown("**Position embeddings: cosine similarity**")
    if isinstance(sim, str):
        st.info(sim)
    else:
        st.image(views.similarity_tiles(sim), width="stretch",
                 caption="One tile per patch position: its similarity to every position "
                         "(yellow = +1, orange, purple, dark blue = −1)")
        locality = att.pos_embed_locality(lm.net)
        st.metric("Locality", f"{locality:+.2f}",
                  help="Correlation between two patches' position-embedding similarity and their closeness on the "
                       "grid, over all pairs: near +1 when nearby patches are most alike, near 0 for no 2-D "
                       "structure (random embeddings), negative when distant patches are more alike.")
        views.download(views.similarity_frame(sim), "pos_embed_similarity", "dl-sim")
with f3:
    st.markdown("**Mean attention distance per head**")
    over = st.radio("Over", ["this image", "32 sample images"], horizontal=True, key="att-over")
    if over == "this image":
        dist = att.mean_attention_distance(torch.from_numpy(res.attn), geo.grid_size, geo.patch_size, P).numpy()
    else:
        dist = views.batch_distance(lm.name)
    idx = np.indices(dist.shape).reshape(2, -1) + 1
    dist_df = pd.DataFrame({"layer": idx[0], "head": idx[1], "distance": dist.reshape(-1)})
    uniform = att.uniform_attention_distance(geo.grid_size, geo.patch_size, P)
    st.altair_chart(views.distance_chart(dist_df, uniform), width="stretch")
    views.download(dist_df, "mean_attention_distance", "dl-dist")
    per_layer = dist.mean(1)
    st.caption(f"Dashed: {uniform:.1f} px, what attention spread evenly over all tokens would give. Here the layers' "
               f"means run {per_layer[0]:.1f} px (layer 1) to {per_layer[-1]:.1f} px (layer {len(per_layer)}), heads "
               f"{dist.min():.1f}–{dist.max():.1f} px. The class token's share of attention is left out, not "
               "renormalised away, so a head that attends mostly to it has a small distance.")

st.header("5 · Prediction")
table = views.predictions(res.probs, lm.class_names)
a, b = st.columns([1.4, 1])
a.altair_chart(views.prediction_chart(table), width="stretch")
b.dataframe(table, hide_index=True)
views.download(table, "top5", "dl-top5")
