"""The one list of the app's pages: the entry file navigates over it, the tests and the bench open its paths."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageSpec:
    path: str  # the script, relative to the repository root
    title: str
    icon: str
    url_path: str  # "" for the home page


PAGES = (
    PageSpec("pages/home.py", "Home", ":material/home:", ""),
    PageSpec("pages/equivariance.py", "Convolution equivariance", ":material/compare_arrows:", "equivariance"),
    PageSpec("pages/attention.py", "ViT patches & attention", ":material/grid_view:", "attention"),
    PageSpec("pages/sensitivity.py", "Shift sensitivity", ":material/show_chart:", "sensitivity"),
    PageSpec("pages/data.py", "Why ViTs need data", ":material/bar_chart:", "data"),
)
URL_PATHS = [p.url_path for p in PAGES]
