"""ViT patches & attention: patches as words, attention per layer and head, rollout, and the ViT paper's Fig. 7."""
import streamlit as st
import torch

from core import attention as att
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
    views.cnn_section(lm, img_np)
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
fused = att.fuse_heads(torch.from_numpy(layer_attn)).numpy() if head == "mean" else layer_attn[head - 1]
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

views.rollout_section(res)
views.fig7_section(lm, res)
views.prediction_section(lm, res)
