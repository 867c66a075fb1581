"""The house's rules, read from the code (no module is run): data flows page -> ui -> core, never back up; no two
project modules import each other, directly or round a circle (imports inside functions count too: a deferred
import is still a dependency); the tour imports core and one module of cached calls; pages stay thin."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE_LINES = 80
# pages still longer than PAGE_LINES (README, Layout): each may shrink, none may grow
LONG_PAGES: dict[str, int] = {}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module(p): p for p in [*ROOT.glob("core/**/*.py"), *ROOT.glob("ui/*.py"), *ROOT.glob("pages/*.py"),
                                   ROOT / "streamlit_app.py"]}


def imported(path: Path) -> set[str]:
    """Every module `path` imports, at any depth of its code: `from a import b` counts as a and, where a.b is a
    module, a.b."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return out


def project_graph() -> dict[str, set[str]]:
    return {m: {i for i in imported(p) if i in MODULES} - {m} for m, p in MODULES.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


# a project module imported under another name always gets the same one (README, Layout); a page's own views module
# is `views`; any other module is imported by its whole name
ALIASES = {"core.attention": "att", "core.biases": "bi", "core.equivariance": "eq", "core.explain": "ex",
           "core.pictures": "pic", "core.sensitivity": "sen", "core.train": "tr", "core.experiments.fourier": "fo",
           "core.experiments.hunger": "hu", "core.experiments.hunger_reading": "hr",
           "core.experiments.pretraining_reading": "pr", "core.experiments.variants_reading": "vr"}


def aliases(path: Path) -> set[tuple[str, str]]:
    """(module, alias) of every project module `path` imports under another name."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out |= {(f"{node.module}.{a.name}", a.asname) for a in node.names if a.asname}
        elif isinstance(node, ast.Import):
            out |= {(a.name, a.asname) for a in node.names if a.asname}
    return {(m, a) for m, a in out if m in MODULES}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_is_imported_by_its_name_or_its_one_alias(module):
    page = module.startswith("pages.")
    bad = {(m, a) for m, a in aliases(MODULES[module])
           if a != ALIASES.get(m) and not (page and m.endswith("_views") and a == "views")}
    assert not bad, (module, bad)


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles_among_the_projects_modules():
    assert cycles(project_graph()) == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("core.experiments.")
                                          and not m.endswith(("_reading", "wording"))))
def test_a_run_never_imports_a_reading(module):
    assert not {i for i in imported(MODULES[module]) if i.endswith("_reading")}, module


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("core")))
def test_core_never_imports_streamlit_ui_or_pages(module):
    bad = {i for i in imported(MODULES[module]) if i.split(".")[0] in ("streamlit", "ui", "pages")}
    assert not bad, (module, bad)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("ui")))
def test_ui_never_imports_a_page(module):
    assert not {i for i in imported(MODULES[module]) if i.split(".")[0] == "pages"}, module


def test_the_tour_imports_core_and_one_module_of_cached_calls():
    views = {i for i in imported(MODULES["ui.tour_views"]) if i.startswith("ui.") and i.endswith("_views")}
    assert not views, views
    assert "ui.lab" in imported(MODULES["ui.tour_views"])


@pytest.mark.parametrize("page", sorted(p.name for p in (ROOT / "pages").glob("*.py")))
def test_a_page_is_a_short_script(page):
    lines = len((ROOT / "pages" / page).read_text(encoding="utf-8").splitlines())
    assert lines <= LONG_PAGES.get(page, PAGE_LINES), (page, lines)
