"""ViT patches & attention: patches as words, attention per layer and head, rollout, and the ViT paper's Fig. 7."""
import streamlit as st

from core import attention as att
from ui import attention_views as views
from ui import require_entry
from ui.i18n import t, words
from ui.images import image_picker
from ui.models import model_picker

require_entry()

st.title(t("attention.title"))
st.caption(t("attention.intro"))

c1, c2 = st.columns(2)
with c1:
    lm = model_picker(default=views.DEFAULTS["model"], key="model")
with c2:
    img = image_picker("att-image", default=views.DEFAULTS["image"])
if lm is None or img is None:
    st.stop()
img_np = img.numpy()

if lm.kind != "vit":
    views.cnn_section(lm, img_np)
    st.stop()

try:
    res = views.analysis(lm.name, img_np)
except att.AttentionError as e:
    st.error(t("attention.cannot_read", name=lm.name, error=words(e)))
    st.stop()
# Bookmarkable state: query params seed the widgets once, then follow them; another model seeds them again
if st.session_state.get("att-model") != lm.name:
    for k in ("att-layer", "att-head", "att-query"):
        st.session_state.pop(k, None)
    st.session_state["att-model"] = lm.name

views.patches_section(res)
views.where_section(res)
views.rollout_section(res)
views.fig7_section(lm, res)
views.prediction_section(lm, res)
views.compare_section()
