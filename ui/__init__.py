"""Streamlit helpers shared by the pages (imported by the entry file: keep it light)."""
import ctypes
import io

import streamlit as st
from PIL import Image
from streamlit.runtime.pages_manager import PagesManager

from ui.registry import BY_NAME


def require_entry() -> None:
    """Make sure streamlit_app.py (page config, navigation, sidebar) runs around this page.

    Streamlit treats a `pages/` folder beside the entry file as an old-style multipage app until the entry
    file first calls st.navigation; so on a freshly started server, the first visitor of a bookmarked
    /<page> URL would run the page alone. Switch that mode off and rerun: the entry file then takes over.
    """
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


try:
    _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
except (OSError, AttributeError):  # not glibc
    _malloc_trim = None


def name_os_thread(name: str) -> None:
    """Give the calling thread `name` in the OS too (Linux; Python 3.11 names only its own object), so that `top -H`,
    py-spy and the benches (/proc/<pid>/task/*/comm) can tell whose CPU is whose. A new thread takes its creator's
    OS name, so a thread that starts others should name them too."""
    try:
        ctypes.CDLL(None).prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


def release_memory() -> None:
    """Give the memory freed by this script run back to the system (glibc keeps it otherwise: see ui/compute.py)."""
    if _malloc_trim is not None:
        _malloc_trim(0)


def png(rgb) -> bytes:
    """[H, W, 3] uint8 numpy array as PNG at zlib level 1 for st.image: 5x faster than the default level for
    ~10 % more bytes (516x516 map: 17 ms against 80 ms); five such maps were most of an update on a 512-px image."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def page_link(name: str, label: str, query: dict | None = None) -> None:
    """A link to page `name` (registry: its path and icon, written once) labelled `label`, opening it with the
    query parameters `query` (its bookmarked settings)."""
    spec = BY_NAME[name]
    st.page_link(spec.path, label=label, icon=spec.icon, query_params=query or None)


# Streamlit cuts a page link's label to one line: on a phone that loses most of a sentence-long label
WRAPPED_LINKS_CSS = """<style>[data-testid="stPageLink"] a, [data-testid="stPageLink"] a * {
  white-space: normal !important; overflow: visible !important; }</style>"""


def wrap_page_links() -> None:
    """Let the page's links wrap their labels onto more lines rather than cut them short."""
    st.html(WRAPPED_LINKS_CSS)


def table_height(rows: int) -> int:
    """Pixels for st.dataframe to show `rows` rows and its header without a scroll bar of its own (35 px a row)."""
    return 35 * (rows + 1) + 3
