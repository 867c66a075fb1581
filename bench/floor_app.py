"""The floor: the least a Streamlit app can do per rerun (one slider, one line of text).

`python -m bench.loadgen --serve streamlit_app.py --floor` measures it with the lab's server settings
(.streamlit/config.toml, the server started from the repository root) beside the lab, so that the lab's latencies
can be given as a multiple of this floor's p95: what is left is the lab's own work, not Streamlit's.
"""
import streamlit as st

value = st.slider("Value", 0, 100, 50)
st.write(f"value = {value}")
