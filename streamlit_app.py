"""Inductive Bias Lab: entry point. Page config, navigation over pages/, the shared sidebar."""
import streamlit as st

from ui import release_memory

# No torch here: ui/compute.py configures it when a page first computes, so the home page opens without it.

st.set_page_config(page_title="Inductive Bias Lab", page_icon=":material/biotech:", layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/equivariance.py", title="Convolution equivariance", icon=":material/compare_arrows:", url_path="equivariance"),
    st.Page("pages/attention.py", title="ViT patches & attention", icon=":material/grid_view:", url_path="attention"),
    st.Page("pages/sensitivity.py", title="Shift sensitivity", icon=":material/show_chart:", url_path="sensitivity"),
    st.Page("pages/data.py", title="Why ViTs need data", icon=":material/bar_chart:", url_path="data"),
]
page = st.navigation(PAGES)

with st.sidebar:
    st.caption(
        "**Inductive Bias Lab** shows how CNNs and Vision Transformers differ. "
        "Runs offline on small models trained by this project on procedural shapes; "
        "any timm model works too when its weights are available."
    )

try:
    page.run()
finally:
    release_memory()
