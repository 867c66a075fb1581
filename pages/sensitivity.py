"""Shift sensitivity: each model's confidence as one object slides across the frame."""
import streamlit as st

from core.experiments import positions
from core import pictures as pic
from core import sensitivity as sen
from core import models, shapes
from ui import bookmarks, require_entry, table_height
from ui import sensitivity_views as views
from ui.i18n import listing, t, worded, words
from ui.images import image_picker
from ui.models import try_load

require_entry()
D = views.DEFAULT_SCENE

st.title(t("sensitivity.title"))
st.caption(t("sensitivity.intro"))

with st.sidebar:
    st.header(t("sensitivity.object"))
    shapes_ = shapes.CLASSES + (views.REGION,)
    shape = st.selectbox(t("sensitivity.shape"), shapes_, index=bookmarks.index_in("shape", shapes_, D.shape),
                         key="shape", format_func=worded(shapes_, views.shape_label),
                         help=t("sensitivity.shape_help"))
    low, high = shapes.SIZE_RANGE
    if shape != views.REGION:
        size = st.slider(t("sensitivity.size", canvas=views.BASE), 8, 40, D.size, key="size",
                         help=t("sensitivity.size_help", low=low, high=high))
        if not low <= size <= high:
            st.warning(t("sensitivity.size_outside", size=size, low=low, high=high))
        angle = st.slider(t("sensitivity.rotation"), 0, 359, D.angle, key="angle")
        colour = st.color_picker(t("sensitivity.colour"), D.colour, key="colour")
    else:
        size, angle, colour = 0, 0, "#000000"
    st.header(t("sensitivity.scene"))
    background = st.selectbox(t("sensitivity.background"), views.BACKGROUNDS, views.BACKGROUNDS.index(D.background),
                              key="bg", format_func=worded(views.BACKGROUNDS, views.background_label))
    bg_seed = st.number_input(t("sensitivity.bg_seed"), 0, 10_000, D.bg_seed, key="bg_seed") \
        if background == "noisy gradient" else 0
    kind = st.radio(t("sensitivity.path"), sen.PATHS, index=bookmarks.index_in("path", sen.PATHS, D.path),
                    horizontal=True, key="path", format_func=worded(sen.PATHS, views.path_label),
                    on_change=views.step_for_path)
    step = st.slider(t("sensitivity.step"), 1, 8, views.default_step(kind), key="step",
                     help=t("sensitivity.step_help", line=D.step, grid=views.GRID_STEP))
    st.header(t("sensitivity.models"))
    chosen = st.multiselect(t("sensitivity.compare"), views.MODEL_CHOICES,
                            default=views.bookmarked_models(views.DEFAULT_MODELS), key="models",
                            help=views.models_help())
    custom = st.text_input(t("sensitivity.custom"), placeholder="timm:resnet18", key="custom")
    st.query_params.update(shape=shape, path=kind, models=",".join(chosen))

chosen = chosen + ([custom.strip()] if custom.strip() else [])
loaded = {n: m for n in chosen if (m := try_load(n)) is not None}
if not loaded:
    st.warning(t("sensitivity.no_model"))
    st.stop()

canvas = views.canvas_for(loaded)
region = photo = None
if shape == views.REGION:
    with st.sidebar.expander(t("sensitivity.region_expander"), expanded=True):
        img = image_picker("sens-image", default="cat")
        if img is None:
            st.stop()
        photo = views.photo_on_canvas(img, canvas)
        a, b, c, d = st.columns(4)
        rw = a.number_input(t("sensitivity.region_width"), 1, canvas, canvas // 3, key="rw")
        rh = b.number_input(t("sensitivity.region_height"), 1, canvas, canvas // 3, key="rh")
        rx = c.number_input(t("sensitivity.region_left"), 0, canvas - 1, canvas // 3, key="rx")
        ry = d.number_input(t("sensitivity.region_top"), 0, canvas - 1, canvas // 3, key="ry")
        region = (int(rx), int(ry), int(rw), int(rh))
        st.caption(t("sensitivity.region_caption", canvas=canvas))

try:
    scene = views.Scene(shape=shape, size=size, angle=angle, colour=colour, background=background,
                        bg_seed=int(bg_seed), path=kind, step=step, canvas=canvas, region=region, photo=photo)
    path = views.scene_path(scene)
    result = views.cached_sweep(scene, tuple(loaded))
except ValueError as e:
    st.error(words(e))
    st.stop()

targets = views.targets(scene, loaded, result)
table = views.long_table(path, result, targets, loaded)
sel = views.chart(table, path, loaded, scene.canvas, key="sweep_chart")
st.caption(words(listing(filter(None, [views.step_caption(path, loaded, scene.canvas),
                                     views.rules_caption(path, loaded, scene.canvas)]), "sentences")))
st.download_button(t("sensitivity.download"), views.csv_of(table), "sensitivity.csv", "text/csv")

stats = views.model_metrics(result, targets, path)
metrics = views.metrics_table(stats, targets, loaded, scene)
st.subheader(t("sensitivity.numbers"))
st.dataframe(metrics, hide_index=True, width="stretch", height=table_height(len(metrics)))
st.caption(t("sensitivity.numbers_caption"))
st.info(words(listing(views.reading(result, stats, targets, path), "sentences")))
stability = positions.load_stability()
if stability is not None and {"cnn", "cnn-aa"} & set(loaded):
    st.caption(t("sensitivity.anti_aliasing", reading=words(positions.stability_reading(stability))))
for augmented, plain in models.augmentation_pairs():  # what shift augmentation did, measured the same way
    reading = positions.stability_reading(stability, augmented, plain) if stability is not None else None
    if reading is not None and {augmented, plain} & set(loaded):
        st.caption(t("sensitivity.augmentation", reading=words(reading)))

st.subheader(t("sensitivity.frame"))
index = views.selected_index(sel, table, path, result, targets)
left, right = st.columns([1, 2])
with left:
    frame = views.frame_at(scene, index)
    st.image(pic.to_uint8(frame), caption=t("sensitivity.frame_caption", x=path.xs[index], y=path.ys[index]),
             width=256)
with right:
    top5 = views.top5_at(result, loaded, index)
    st.dataframe(top5, hide_index=True, width="stretch", height=table_height(len(top5)))
