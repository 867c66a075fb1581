"""Convolution equivariance: see f(T x) = T f(x), what breaks it and what restores it."""
import numpy as np
import pandas as pd
import streamlit as st

from core import equivariance as eq
from core.transforms import KernelError
from ui import bookmarks, require_entry
from ui import equivariance_views as views
from ui.i18n import name_of, t, worded, words
from ui.images import image_picker

require_entry()

KERNELS, D = views.KERNELS, views.DEFAULTS

st.title(t("equivariance.title"))
st.markdown(t("equivariance.intro"))

# --- input and kernel (a new image or kernel reruns the page; a shift reruns only the panels) ---------------------
left, right = st.columns([1, 1], gap="large")
with left:
    img = image_picker("eq-image", default=D["image"])
    if img is None:
        st.stop()
with right:
    bookmarks.seed("eq_kernel", "kernel", str, D["kernel"], lambda v: v in KERNELS)
    bookmarks.seed("eq_ksize", "size", int, D["size"], lambda v: v in (1, 3, 5, 7))
    bookmarks.seed("eq_seed", "seed", int, D["seed"], lambda v: 0 <= v <= 9999)
    preset = st.selectbox(t("equivariance.kernel"), KERNELS, key="eq_kernel",
                          format_func=worded(KERNELS, lambda k: name_of("equivariance.preset", k)))
    size, seed = st.session_state.eq_ksize, st.session_state.eq_seed
    if preset == "custom" and size == 1:
        st.session_state.eq_ksize = size = 3  # a 1x1 table has nothing to edit
    if preset in eq.SIZED_PRESETS or preset == "custom":
        size = st.select_slider(t("equivariance.kernel_size"), (1, 3, 5, 7) if preset != "custom" else (3, 5, 7),
                                key="eq_ksize")
    if preset == "random":
        seed = st.number_input(t("equivariance.seed"), 0, 9999, key="eq_seed")
    if preset == "custom":
        start = np.zeros((size, size))
        start[size // 2 - 1:size // 2 + 2, size // 2 - 1:size // 2 + 2] = eq.kernel_preset("vertical edge")
        table = st.data_editor(pd.DataFrame(start, columns=[f"c{i}" for i in range(size)]), num_rows="fixed",
                               hide_index=True, key=f"eq_custom_{size}")
        raw = table.to_numpy()
    else:
        raw = eq.kernel_preset(preset, size, seed)
        st.dataframe(pd.DataFrame(raw).style.format("{:.3g}"), hide_index=True)
st.query_params.update(kernel=preset, size=str(size), seed=str(seed))

try:
    kernel = views.kernel_array(raw)
except KernelError as e:
    st.error(t("equivariance.kernel_error", error=words(e)))
    st.stop()

views.shift_section(img.numpy(), kernel)
views.chains_section(img.numpy(), kernel)
