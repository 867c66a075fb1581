"""Projector mode: `?present=1` or the sidebar toggle. Type 1.5x larger, chart labels in projector sizes, and what
a lecturer does not point at (captions, downloads, the fold-out panels) hidden, so that each section's picture and
its main control fit a 1280x720 projector. The state is the session's (it survives page changes) and the URL's."""
from __future__ import annotations

import altair as alt
import streamlit as st

from ui import bookmarks
from ui.i18n import t

KEY = "present"
SCALE = 1.5
# Streamlit sizes its type in rem, so one root size scales text and widgets alike; charts get their sizes in the
# spec (chart()), tables are drawn on a canvas and keep theirs.
CSS = f"""<style>
html {{ font-size: {16 * SCALE:.0f}px; }}
[data-testid="stCaptionContainer"], [data-testid="stDownloadButton"], [data-testid="stExpander"],
[data-testid="stTooltipIcon"] {{ display: none !important; }}
[data-testid="stMainBlockContainer"] {{ padding: 4.5rem 1.5rem 3rem 1.5rem; max-width: 100%;  /* clears the fixed header */ }}
h1 {{ font-size: 1.8rem !important; padding-top: 0 !important; }}
h2 {{ font-size: 1.4rem !important; }}
h3 {{ font-size: 1.2rem !important; }}
</style>"""


# Streamlit's own breakpoint, where it stacks a row's columns one under the other (a phone), and above it: the media
# queries of every page's phone and wide-screen rules
PHONE = "@media (max-width: 640px)"
WIDE = "@media (min-width: 641px)"

# Every screen: where Streamlit stacks a row's columns (a phone), it keeps the row's gap between them ('large': 64 px
# of nothing between a picker and the next); stacked columns sit 1rem apart, as a column's own elements nearly do.
NARROW_CSS = f"""<style>
{PHONE} {{ [data-testid="stHorizontalBlock"] {{ row-gap: 1rem !important; }} }}
</style>"""


def toggle() -> bool:
    """The sidebar switch (seeded once from ?present=1), kept in the URL while it is on. Returns whether it is. Draws
    the page's screen rules (NARROW_CSS, and CSS when on)."""
    bookmarks.seed(KEY, KEY, _asks, False)
    on = st.sidebar.toggle(t("app.projector"), key=KEY, help=t("app.projector_help"))
    st.html(NARROW_CSS + (CSS if on else ""))
    if on:
        bookmarks.keep(**{KEY: "1"})
    elif KEY in st.query_params:
        del st.query_params[KEY]
    return on


def _asks(value: str) -> bool:
    return value in ("1", "true", "yes")


def requested() -> bool:
    """Whether the URL asks for projector mode: read before the page config, to start with the sidebar folded."""
    return bookmarks.from_url(KEY, _asks, False)


def is_on() -> bool:
    return bool(st.session_state.get(KEY))


def scale() -> float:
    """How much larger than on a screen a chart's own marks (texts, bar heights) are drawn: SCALE in projector mode."""
    return SCALE if is_on() else 1.0


def chart(c, **kwargs):
    """st.altair_chart, with projector-sized labels when projector mode is on (the one place Altair charts are
    drawn; ui.charts.chart draws the same from a spec cached per input)."""
    return st.altair_chart(sized(c), **kwargs)


def sized(c):
    """The Altair chart `c` with projector-sized labels when projector mode is on, else `c` itself. A chart's own
    configuration (a legend placed below, say) is kept: the sizes are added to it."""
    if is_on():
        label, title = round(11 * SCALE), round(12 * SCALE)
        sizes = {"axis": {"labelFontSize": label, "titleFontSize": title},
                 "legend": {"labelFontSize": label, "titleFontSize": title, "symbolSize": 200},
                 "header": {"labelFontSize": label, "titleFontSize": title}, "title": {"fontSize": title}}
        config = {} if c.config is alt.Undefined else c.config.to_dict()
        c = c.copy(deep=False)
        c.config = alt.Config.from_dict({**config, **{k: {**config.get(k, {}), **v} for k, v in sizes.items()}})
    return c
