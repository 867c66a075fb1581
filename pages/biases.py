"""Bias by bias: each inductive bias the article names, measured on the picked CNN and ViT."""
import streamlit as st

from ui import biases_views as views
from ui import require_entry
from ui.i18n import t

require_entry()

st.title(t("biases.title"))
st.caption(t("biases.intro"))
cnn, vit = views.pickers()
if cnn is None or vit is None:
    st.stop()

views.section(t("biases.locality.title"), views.locality_section, cnn, vit)
views.section(t("biases.sharing.title"), views.sharing_section, cnn, vit)
views.section(t("biases.hierarchy.title"), views.hierarchy_section, cnn, vit)
views.section(t("biases.patches.title"), views.patches_section, cnn, vit)
views.section(t("biases.fourier.title"), views.frequency_section, cnn, vit)
