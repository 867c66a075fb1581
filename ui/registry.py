"""The one list of the app's pages: the entry file navigates over it, the tests and the bench open its paths."""
from __future__ import annotations

from dataclasses import dataclass


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
