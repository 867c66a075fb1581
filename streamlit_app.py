"""Inductive Bias Lab: entry point. Page config, navigation over pages/, the shared sidebar.

`streamlit run streamlit_app.py` finds the `st.App` below and serves it; the server imports this file once to get
it (outside any script run), and each visitor's script run then draws the app. The App's lifespan starts the
warm-up with the server, which answers at once: the first visitor's page computes what it needs itself, the
warm-up steps aside while any visitor's run is under way, and later visitors find torch, the models and every
page's default view ready (ui/warmup.py).
"""
import copy

import streamlit as st
from starlette.routing import Route
from streamlit.runtime.scriptrunner import get_script_run_ctx

from ui import i18n, registry, release_memory, warmup
from ui.i18n import t

# ui.present (altair) and ui.classroom (pandas, altair) are imported when a page is first drawn or polled, not when
# the server imports this file to find its App, which then answers without waiting for them.


def draw() -> None:
    from ui import present

    # No torch here: ui/compute.py configures it when a page first computes, so the home page opens without it.
    st.set_page_config(page_title=t("app.name"), page_icon=":material/biotech:", layout="wide",
                       initial_sidebar_state="collapsed" if present.requested() else "auto")  # projector: all width

    i18n.picker()  # before the navigation: the page titles are in the session's language
    titles = [t(f"nav.{p.name}") for p in registry.PAGES]
    page = st.navigation([copy.copy(p) for p in registry.navigation_pages(i18n.current(), titles)])

    present.toggle()
    with st.sidebar:
        st.caption(t("app.about"))

    try:
        page.run()
    finally:
        release_memory()
        warmup.start()  # where no lifespan ran (AppTest): once, after this first page is done


async def classroom_state(request):
    """The classroom phones' poll (ui/classroom.py STATE_PATH): a plain route, no script run per poll."""
    from ui import classroom

    return await classroom.state_endpoint(request)


# The server imports this file outside any script run (no context: say so quietly, it is expected here).
if get_script_run_ctx(suppress_warning=True) is None:
    # under the server's base path, like Streamlit's own routes: the phones ask it relative to their page's address
    base = st.get_option("server.baseUrlPath").strip("/")
    app = st.App(__file__, lifespan=warmup.lifespan,
                 routes=[Route(f"/{base}/_classroom/state" if base else "/_classroom/state", classroom_state)])
else:
    with warmup.visitor():  # the warm-up waits while a visitor's page runs
        draw()
