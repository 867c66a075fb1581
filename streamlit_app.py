"""Inductive Bias Lab: entry point. Page config, navigation over pages/, the shared sidebar."""
import os

import streamlit as st
import torch

# One intra-op thread per computation: sessions run in parallel threads, and on a small server (2 cores here,
# 1-2 on Community Cloud) two torch threads per session fight each other and get several times slower.
torch.set_num_threads(int(os.environ.get("IBL_TORCH_THREADS", "1")))

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

page.run()
