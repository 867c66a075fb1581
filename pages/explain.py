"""Why this class: a CNN's and a ViT's class-specific maps of the same image side by side, and how faithful each is."""
import streamlit as st

from core import explain as ex
from core import faithfulness, images
from ui import explain_views as views
from ui import require_entry
from ui.i18n import t, words
from ui.images import image_picker, picked_key
from ui.models import model_picker

require_entry()

D = views.DEFAULTS
st.title(t("explain.title"))
st.caption(t("explain.intro"))  # hidden in projector mode: the maps must fit the first screen
st.html(views.PHONE_CSS)

c_img, c_cls = st.columns(2, gap="large")  # the same columns as the two models' below
with c_img:
    img = image_picker("ex-image", default=D["image"])
if st.session_state.get("ex-image") in images.SEVERAL_OBJECTS:
    st.info(t("explain.distractor_case"))
columns = st.columns(2, gap="large")  # each model's picker above its own maps: no picker shares a row with three
with columns[0]:
    cnn = model_picker(t("explain.cnn_model"), kinds=("cnn",), default=D["cnn"], key="ex-cnn")
with columns[1]:
    vit = model_picker(t("explain.vit_model"), kinds=("vit",), default=D["vit"], key="ex-vit")
if img is None or cnn is None or vit is None:
    st.stop()
with c_cls:
    chosen = views.class_picker([cnn, vit])

img_np = img.numpy()
image = picked_key(st.session_state.get("ex-image"), img_np)  # the image's name in what is made once per input
shown = []
for col, lm in zip(columns, (cnn, vit)):
    with col:
        try:
            with st.spinner(t("explain.computing", model=lm.name)):
                shown.append((col, lm, views.explained(lm.name, img_np, image, chosen)))
        except ex.ExplainError as err:
            st.error(t("explain.cannot", model=lm.name, error=words(err)))
grid = faithfulness.common_grid(m.shape for _, _, e in shown for m in e.native.values()) if shown else None
faith = {}
for col, lm, e in shown:
    with col:
        with st.spinner(t("explain.computing", model=lm.name)):
            faith[lm.name] = views.faithful(lm.name, img_np, image, chosen, grid)
        views.model_column(lm, img_np, image, chosen, e, faith[lm.name], grid)

if shown:
    views.faithfulness_section([e for _, _, e in shown], faith, grid, image, chosen)
with st.expander(t("explain.methods_title")):
    st.markdown(t("explain.methods_body"))
