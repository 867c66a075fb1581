"""The floor: the least a Streamlit app can do per rerun (one slider, one line of text).

`python -m bench.loadgen --serve streamlit_app.py --floor` measures it with the lab's server settings
(.streamlit/config.toml, the server started from the repository root) beside the lab, so that the lab's latencies
can be given as a multiple of this floor's p95: what is left is the lab's own work, not Streamlit's.
"""
import gc

import streamlit as st


@st.cache_resource
def _freeze() -> None:
    """As the lab's warm-up does (ui/warmup.py), once per server: Streamlit runs a full garbage collection after
    every script run, which walks every object the server has made so far unless they are frozen. Without this the
    floor would pay ~30 ms more CPU per rerun than the lab (measured here: 37 against 4 ms), and be no floor."""
    gc.collect()
    gc.freeze()


_freeze()
value = st.slider("Value", 0, 100, 50)
st.write(f"value = {value}")
