"""Inductive Bias Lab: entry point. Page config, navigation over pages/, the shared sidebar."""
import streamlit as st

from ui import present, registry, release_memory, warmup

# No torch here: ui/compute.py configures it when a page first computes, so the home page opens without it.

st.set_page_config(page_title="Inductive Bias Lab", page_icon=":material/biotech:", layout="wide",
                   initial_sidebar_state="collapsed" if present.requested() else "auto")  # projector: all width

PAGES = [st.Page(p.path, title=p.title, icon=p.icon, default=not p.url_path,
                 **({"url_path": p.url_path} if p.url_path else {}))  # the home page is the default, at "/"
         for p in registry.PAGES]
page = st.navigation(PAGES)
warmup.start()  # once per server: torch, the models and the default results load while the visitor reads

present.toggle()
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
