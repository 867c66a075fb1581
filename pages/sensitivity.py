"""Shift sensitivity: each model's confidence as one object slides across the frame."""
import streamlit as st

from core import sensitivity as sen
from core import shapes
from ui import sensitivity_views as views
from ui.models import label, try_load

st.title("Shift sensitivity: slide an object across the frame")
st.caption("One object moves across the frame in 1-pixel steps; every model classifies every frame. A model with "
           "a good translation bias keeps its answer and its confidence wherever the object is.")

c1, c2, c3 = st.columns([1.2, 1, 1.3])
with c1:
    st.markdown("**Object**")
    shape = st.selectbox("Shape", shapes.CLASSES, index=shapes.CLASSES.index("star"), key="shape")
    size = st.slider("Size (px)", 8, 40, 20, key="size")
    angle = st.slider("Rotation (°)", 0, 359, 0, key="angle")
    colour = st.color_picker("Colour", "#ffd21e", key="colour")
with c2:
    st.markdown("**Scene**")
    background = st.selectbox("Background", views.BACKGROUNDS, key="bg")
    bg_seed = st.number_input("Background seed", 0, 10_000, 7, key="bg_seed") if background == "noisy gradient" else 0
    kind = st.radio("Path", sen.PATHS, horizontal=True, key="path")
    step = st.slider("Step (px)", 1, 8, 1 if kind != "grid" else 2, key="step")
with c3:
    st.markdown("**Models**")
    chosen = st.multiselect("Compare", views.MODEL_CHOICES, default=["cnn", "vit"], format_func=label, key="models")
    custom = st.text_input("Add a timm model", placeholder="timm:resnet18", key="custom")

chosen = chosen + ([custom.strip()] if custom.strip() else [])
loaded = {n: m for n in chosen if (m := try_load(n)) is not None}
if not loaded:
    st.warning("Pick at least one model that can be loaded.")
    st.stop()

try:
    scene = views.Scene(shape, size, angle, colour, background, int(bg_seed), kind, step, views.canvas_for(loaded))
    path = views.scene_path(scene)
    result = views.cached_sweep(scene, tuple(loaded))
except ValueError as e:
    st.error(str(e))
    st.stop()

targets = views.targets(scene, loaded, result)
table = views.long_table(path, result, targets, loaded)
sel = views.chart(table, path, loaded, scene.canvas, key="sweep_chart")
st.download_button("Download the sweep as CSV", table.to_csv(index=False), "sensitivity.csv", "text/csv")

metrics = views.metrics_table(result, targets, path, loaded)
st.subheader("Numbers")
st.dataframe(metrics, hide_index=True, width="stretch")
st.caption(
    "**accuracy**: share of positions whose top-1 class is the target. **min/max conf.**: lowest and highest "
    "probability of the target. **consistency** (Zhang 2019): % of random position pairs with the same top-1 "
    "class. **jaggedness** (Azulay & Weiss 2019): P(top-1 changes) between neighbouring positions. "
    "**MAC**: mean absolute change of the top-1 probability between neighbouring positions.")
st.info(views.reading(result, targets, path))

st.subheader("The frame at one position")
index = views.selected_index(sel, table, path, result, targets)
left, right = st.columns([1, 2])
with left:
    frame = views.frame_at(scene, index)
    st.image(views.to_display(frame), caption=f"object at x={path.xs[index]}, y={path.ys[index]} (top-left)",
             width=256)
with right:
    st.dataframe(views.top5_at(result, loaded, index), hide_index=True, width="stretch")
