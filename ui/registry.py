"""The one list of the app's pages: the entry file navigates over it, the tests and the bench open its paths."""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st


@dataclass(frozen=True)
class PageSpec:
    path: str  # the script, relative to the repository root
    icon: str
    url_path: str  # "" for the home page
    hidden: bool = False  # reached by its link only (a student's join page), not listed in the navigation

    @property
    def name(self) -> str:
        """The page's short name: its URL path, "home" for the home page (its title is the catalogue's nav.<name>)."""
        return self.url_path or "home"


PAGES = (
    PageSpec("pages/home.py", ":material/home:", ""),
    PageSpec("pages/tour.py", ":material/co_present:", "tour"),
    PageSpec("pages/equivariance.py", ":material/compare_arrows:", "equivariance"),
    PageSpec("pages/attention.py", ":material/grid_view:", "attention"),
    PageSpec("pages/biases.py", ":material/checklist:", "biases"),
    PageSpec("pages/explain.py", ":material/psychology_alt:", "explain"),
    PageSpec("pages/sensitivity.py", ":material/show_chart:", "sensitivity"),
    PageSpec("pages/data.py", ":material/bar_chart:", "data"),
    PageSpec("pages/join.py", ":material/smartphone:", "join", hidden=True),
)
URL_PATHS = [p.url_path for p in PAGES]
BY_NAME = {p.name: p for p in PAGES}


@st.cache_resource(show_spinner=False)
def navigation_pages(lang: str, _titles: list[str]) -> list[st.Page]:
    """The navigation's pages, titled `_titles` (PAGES' titles in the language `lang`, the cache's key), made once
    per language: st.Page resolves its file's path on disk, a sixth of the tour's script time for nine pages. Each
    run navigates over copies, since st.navigation marks the page it picks on the page object itself. (Here, not in
    the entry file, which runs anew each time: a cached function defined there is hashed anew, source and all.)"""
    return [st.Page(p.path, title=title, icon=p.icon, default=not p.url_path,
                    visibility="hidden" if p.hidden else "visible", **({"url_path": p.url_path} if p.url_path else {}))
            for p, title in zip(PAGES, _titles)]  # the home page is the default, at "/"

