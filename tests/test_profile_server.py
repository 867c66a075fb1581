"""bench.profile_server's breakdown by library on a hand-made profile: each function's own time to the library its
file is in, Python's own functions to the library that called them most."""
from types import SimpleNamespace

from bench.profile_server import LIBRARIES, ROOT, by_library

ST = "/site-packages/streamlit/delta_generator.py"
PANDAS = "/site-packages/pandas/core/frame.py"
LAB = f"{ROOT}/ui/charts.py"


def test_python_s_own_functions_count_for_the_library_that_called_them_most():
    lab, st, pandas = ((LAB, 1, "table"), (ST, 2, "_enqueue"), (PANDAS, 3, "__init__"))
    deepcopy, isinstance_, orphan = (("/usr/lib/python3.11/copy.py", 4, "deepcopy"), ("~", 0, "<isinstance>"),
                                     ("~", 0, "<len>"))
    # (cc, nc, own seconds, cumulative, {caller: (cc, nc, own seconds spent for that caller, cumulative)})
    stats = SimpleNamespace(stats={
        lab: (1, 1, 0.5, 9.0, {}),
        st: (1, 1, 2.0, 5.0, {lab: (1, 1, 2.0, 5.0)}),
        pandas: (1, 1, 1.0, 1.5, {lab: (1, 1, 1.0, 1.5)}),
        deepcopy: (2, 2, 0.75, 1.0, {st: (1, 1, 0.5, 0.7), pandas: (1, 1, 0.25, 0.3)}),  # mostly Streamlit's
        isinstance_: (3, 3, 0.25, 0.25, {deepcopy: (3, 3, 0.25, 0.25)}),  # through deepcopy: Streamlit's too
        orphan: (1, 1, 0.125, 0.125, {}),  # no caller in the profile: Python's own
    })
    shares = dict(by_library(stats))
    label = {mark: name for name, mark in LIBRARIES}
    assert shares[label["/streamlit/"]] == 2.0 + 0.75 + 0.25
    assert shares[label["/pandas/"]] == 1.0 and shares[label[str(ROOT) + "/"]] == 0.5
    assert shares[LIBRARIES[-1][0]] == 0.125
    assert sum(shares.values()) == 0.5 + 2.0 + 1.0 + 0.75 + 0.25 + 0.125  # every second counted once
