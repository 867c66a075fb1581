"""Why ViTs need data: accuracy vs training-set size and vs object position (issue 7, in progress)."""
import streamlit as st

from ui import require_entry

require_entry()

st.title("Why ViTs need data")
st.info("This page is being built: it will show accuracy against training-set size and against object "
        "position for a CNN and a ViT trained by this project.")
