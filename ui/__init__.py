"""Streamlit helpers shared by the pages."""
import streamlit as st


def require_entry() -> None:
    """Make sure streamlit_app.py (page config, navigation, sidebar) runs around this page.

    Streamlit treats a `pages/` folder beside the entry file as an old-style multipage app until the entry
    file first calls st.navigation; so on a freshly started server, the first visitor of a bookmarked
    /<page> URL would run the page alone. Switch that mode off and rerun: the entry file then takes over.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
