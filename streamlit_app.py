"""Inductive Bias Lab: entry point. Page config, navigation over pages/, the shared sidebar."""
import streamlit as st

from ui import i18n, present, registry, release_memory, warmup
from ui.i18n import t

# No torch here: ui/compute.py configures it when a page first computes, so the home page opens without it.

st.set_page_config(page_title=t("app.name"), page_icon=":material/biotech:", layout="wide",
                   initial_sidebar_state="collapsed" if present.requested() else "auto")  # projector: all width

i18n.picker()  # before the navigation: the page titles are in the session's language
PAGES = [st.Page(p.path, title=t(f"nav.{p.name}"), icon=p.icon, default=not p.url_path,
                 **({"url_path": p.url_path} if p.url_path else {}))  # the home page is the default, at "/"
         for p in registry.PAGES]
page = st.navigation(PAGES)

present.toggle()
with st.sidebar:
    st.caption(t("app.about"))

try:
    page.run()
finally:
    release_memory()
    # once per server, after this first page is done (its own run does not compete with the imports): torch, the
    # models and every page's default view load in the background while the visitor reads
    warmup.start()
