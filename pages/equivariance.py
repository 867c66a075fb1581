"""Convolution equivariance: see f(T x) = T f(x), what breaks it and what restores it."""
import streamlit as st

from core.transforms import KernelError
from ui import equivariance_views as views
from ui import require_entry
from ui.i18n import t, words
from ui.images import image_picker, picked_key

require_entry()

st.title(t("equivariance.title"))
st.markdown(t("equivariance.intro"))

# --- input and kernel (a new image or kernel reruns the page; a shift reruns only the panels) ---------------------
left, right = st.columns([1, 1], gap="large")
with left:
    img = image_picker("eq-image", default=views.DEFAULTS["image"])
    if img is None:
        st.stop()
with right:
    raw = views.kernel_controls()

try:
    kernel = views.kernel_array(raw)
except KernelError as e:
    st.error(t("equivariance.kernel_error", error=words(e)))
    st.stop()

image = img.numpy()
# the image's and the kernel's names in ui.charts' inputs, made once a run for both sections
keys = (picked_key(st.session_state["eq-image"], image), views.kernel_key(kernel))
views.shift_section(image, kernel, keys)
views.chains_section(image, kernel, keys)
