"""Why this class: a CNN's and a ViT's class-specific maps of the same image side by side, and how faithful each is."""
import streamlit as st

from core import explain as ex
from ui import explain_views as views
from ui import require_entry
from ui.i18n import t, words
from ui.images import image_picker
from ui.models import model_picker

require_entry()

D = views.DEFAULTS
st.title(t("explain.title"))
st.caption(t("explain.intro"))  # hidden in projector mode: the maps must fit the first screen

c_img, c_cnn, c_vit, c_cls = st.columns([1.2, 1, 1, 1])
with c_img:
    img = image_picker("ex-image", default=D["image"])
with c_cnn:
    cnn = model_picker(t("explain.cnn_model"), kinds=("cnn",), default=D["cnn"], key="ex-cnn")
with c_vit:
    vit = model_picker(t("explain.vit_model"), kinds=("vit",), default=D["vit"], key="ex-vit")
if img is None or cnn is None or vit is None:
    st.stop()
with c_cls:
    chosen = views.class_picker([cnn, vit])

img_np = img.numpy()
explanations = []
for col, lm in zip(st.columns(2, gap="large"), (cnn, vit)):
    with col:
        try:
            with st.spinner(t("explain.computing", model=lm.name)):
                e = views.explanation(lm.name, img_np, chosen)
        except ex.ExplainError as err:
            st.error(t("explain.cannot", model=lm.name, error=words(err)))
            continue
        views.model_column(lm, img_np, e)
        explanations.append(e)

if explanations:
    views.faithfulness_section(explanations)
with st.expander(t("explain.methods_title")):
    st.markdown(t("explain.methods_body"))
