"""Shift sensitivity: each model's confidence as one object slides across the frame."""
import streamlit as st

from core import experiments as ex
from core import pictures as pic
from core import sensitivity as sen
from core import shapes
from ui import bookmarks, require_entry, table_height
from ui import sensitivity_views as views
from ui.i18n import say
from ui.images import image_picker
from ui.models import try_load

require_entry()
D = views.DEFAULT_SCENE

st.title("Shift sensitivity")
st.caption("One object slides across the frame step by step and every model classifies every frame. A model "
           "with a good translation bias keeps its answer and its confidence wherever the object is. "
           "Set the object, the path and the models in the sidebar; click the chart to see one frame.")

with st.sidebar:
    st.header("Object")
    shapes_ = shapes.CLASSES + (views.REGION,)
    shape = st.selectbox("Shape", shapes_, index=bookmarks.index_in("shape", shapes_, D.shape), key="shape",
                         help="A shape from the training data's renderer, or a rectangle cut from an image "
                              "(for timm models trained on photos).")
    if shape != views.REGION:
        size = st.slider("Size (px on the 64-px canvas)", 8, 40, D.size, key="size",
                         help=f"The embedded models were trained on objects of {shapes.SIZE_RANGE[0]}–"
                              f"{shapes.SIZE_RANGE[1]} px.")
        if not shapes.SIZE_RANGE[0] <= size <= shapes.SIZE_RANGE[1]:
            st.warning(f"{size} px is outside the {shapes.SIZE_RANGE[0]}–{shapes.SIZE_RANGE[1]} px the embedded "
                       "models were trained on: expect them to fail at every position.")
        angle = st.slider("Rotation (°)", 0, 359, D.angle, key="angle")
        colour = st.color_picker("Colour", D.colour, key="colour")
    else:
        size, angle, colour = 0, 0, "#000000"
    st.header("Scene")
    background = st.selectbox("Background", views.BACKGROUNDS, views.BACKGROUNDS.index(D.background), key="bg")
    bg_seed = st.number_input("Background seed", 0, 10_000, D.bg_seed, key="bg_seed") if background == "noisy gradient" else 0
    kind = st.radio("Path", sen.PATHS, index=bookmarks.index_in("path", sen.PATHS, D.path), horizontal=True,
                    key="path", on_change=views.step_for_path)
    step = st.slider("Step (px)", 1, 8, views.default_step(kind), key="step",
                     help=f"Switching the path sets {D.step} px for a line and {views.GRID_STEP} px for the grid, "
                          "which has a frame for every pair of positions.")
    st.header("Models")
    chosen = st.multiselect("Compare", views.MODEL_CHOICES, default=views.bookmarked_models(views.DEFAULT_MODELS),
                            key="models", help=views.models_help())
    custom = st.text_input("Add a timm model", placeholder="timm:resnet18", key="custom")
    st.query_params.update(shape=shape, path=kind, models=",".join(chosen))

chosen = chosen + ([custom.strip()] if custom.strip() else [])
loaded = {n: m for n in chosen if (m := try_load(n)) is not None}
if not loaded:
    st.warning("Pick at least one model that can be loaded.")
    st.stop()

canvas = views.canvas_for(loaded)
region = photo = None
if shape == views.REGION:
    with st.sidebar.expander("The region to slide", expanded=True):
        img = image_picker("sens-image", default="cat")
        if img is None:
            st.stop()
        photo = views.photo_on_canvas(img, canvas)
        a, b, c, d = st.columns(4)
        rw = a.number_input("width (px)", 1, canvas, canvas // 3, key="rw")
        rh = b.number_input("height (px)", 1, canvas, canvas // 3, key="rh")
        rx = c.number_input("left (px)", 0, canvas - 1, canvas // 3, key="rx")
        ry = d.number_input("top (px)", 0, canvas - 1, canvas // 3, key="ry")
        region = (int(rx), int(ry), int(rw), int(rh))
        st.caption(f"The image is squeezed to the {canvas}×{canvas} canvas; the rectangle is cut from it.")

try:
    scene = views.Scene(shape=shape, size=size, angle=angle, colour=colour, background=background,
                        bg_seed=int(bg_seed), path=kind, step=step, canvas=canvas, region=region, photo=photo)
    path = views.scene_path(scene)
    result = views.cached_sweep(scene, tuple(loaded))
except ValueError as e:
    st.error(str(e))
    st.stop()

targets = views.targets(scene, loaded, result)
table = views.long_table(path, result, targets, loaded)
sel = views.chart(table, path, loaded, scene.canvas, key="sweep_chart")
st.caption(views.step_caption(path, loaded, scene.canvas) + " " + views.rules_caption(path, loaded, scene.canvas))
st.download_button("Download the sweep as CSV", table.to_csv(index=False), "sensitivity.csv", "text/csv")

stats = views.model_metrics(result, targets, path)
metrics = views.metrics_table(stats, targets, loaded, scene)
st.subheader("Numbers")
st.dataframe(metrics, hide_index=True, width="stretch", height=table_height(len(metrics)))
st.caption(
    "**accuracy**: share of positions whose top-1 class is the target; for a model that does not know the shape "
    "(an ImageNet timm model) the target is its own answer at the middle frame, so accuracy is agreement with that "
    "answer. **min/max conf.**: lowest and highest probability of the target. **consistency** (Zhang 2019): % of "
    "all pairs of positions with the same top-1 class. **jaggedness** (Azulay & Weiss 2019): P(top-1 changes) "
    "between neighbouring positions. **MAC**: mean absolute change of the target's probability between "
    "neighbouring positions (the top-1 probability would jump whenever the answer flips).")
st.info(views.reading(result, stats, targets, path))
stability = ex.load_stability()
if stability is not None and {"cnn", "cnn-aa"} & set(loaded):
    st.caption("**Anti-aliasing, measured.** " + say(ex.stability_reading(stability)))

st.subheader("The frame at one position")
index = views.selected_index(sel, table, path, result, targets)
left, right = st.columns([1, 2])
with left:
    frame = views.frame_at(scene, index)
    st.image(pic.to_uint8(frame), caption=f"object at x={path.xs[index]}, y={path.ys[index]} (top-left)",
             width=256)
with right:
    top5 = views.top5_at(result, loaded, index)
    st.dataframe(top5, hide_index=True, width="stretch", height=table_height(len(top5)))
