"""Shift sensitivity: each model's confidence as one object slides across the frame."""
import streamlit as st

from core import pictures as pic
from ui import charts, require_entry, table_height
from ui import sensitivity_views as views
from ui.i18n import current, listing, t, words
from ui.models import try_load

require_entry()

st.title(t("sensitivity.title"))
st.caption(t("sensitivity.intro"))

settings, chosen, custom = views.scene_controls()

chosen = chosen + ([custom.strip()] if custom.strip() else [])
loaded = {n: m for n in chosen if (m := try_load(n)) is not None}
if not loaded:
    st.warning(t("sensitivity.no_model"))
    st.stop()

canvas = views.canvas_for(loaded)
region, photo = views.region_controls(canvas) if settings["shape"] == views.REGION else (None, None)

try:
    scene = views.Scene(**settings, canvas=canvas, region=region, photo=photo)
    path = views.made_path(scene)
    result = views.swept(scene, tuple(loaded))
except ValueError as e:
    st.error(words(e))
    st.stop()

# what follows depends on the scene and the models alone: made once per sweep (and language) for every session
sweep = (scene.key, tuple(loaded))
targets = charts.once("sensitivity.targets", sweep, lambda: views.targets(scene, loaded, result))
table = charts.once("sensitivity.table", (sweep, current()), lambda: views.long_table(path, result, targets, loaded))
sel = views.chart(table, path, loaded, scene.canvas, sweep, key="sweep_chart")
st.caption(charts.once("sensitivity.captions", (sweep, current()), lambda: words(listing(filter(None, [
    views.step_caption(path, loaded, scene.canvas), views.rules_caption(path, loaded, scene.canvas)]), "sentences"))))
st.download_button(t("sensitivity.download"), lambda: views.csv_of(table), "sensitivity.csv", "text/csv")

stats = charts.once("sensitivity.metrics", sweep, lambda: views.model_metrics(result, targets, path))
st.subheader(t("sensitivity.numbers"))
views.numbers(stats, targets, loaded, scene, sweep)
st.caption(t("sensitivity.numbers_caption"))
st.info(charts.once("sensitivity.reading", (sweep, current()),
                    lambda: words(listing(views.reading(result, stats, targets, path), "sentences"))))
views.shift_readings(loaded)

st.subheader(t("sensitivity.frame"))
index = views.selected_index(sel, table, path, result, targets)
left, right = st.columns([1, 2])
with left:
    charts.image("sensitivity.frame", (scene.key, index), lambda: pic.to_uint8(views.frame_at(scene, index)),
                 caption=t("sensitivity.frame_caption", x=path.xs[index], y=path.ys[index]), width=256)
with right:
    top5 = charts.arrow("sensitivity.top5", (sweep, index), lambda: views.top5_at(result, loaded, index))
    st.dataframe(top5, hide_index=True, width="stretch", height=table_height(top5.num_rows))
