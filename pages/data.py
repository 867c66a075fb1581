"""Why ViTs need data: accuracy vs object position and vs training-set size, and what the ViT learns."""
import streamlit as st

from core import hunger as hu
from ui import data_views as views
from ui import require_entry

require_entry()

st.title("Why ViTs need data")
st.markdown(
    "Two ways to ask what an architecture's built-in assumptions are worth. **Where**: train on objects near the "
    "centre only, then test everywhere. **How much**: train on more and more images and watch who learns faster. "
    "A CNN slides the same kernels over every position; a ViT also applies the same patch embedding and MLPs to "
    "every patch, but how patches combine depends on learnt position embeddings and attention (ViT paper, §3.2).")

st.subheader("Trained on the centre, tested everywhere")
views.position_section()

st.subheader("Accuracy against training-set size")
hunger = hu.load()
live = st.session_state.get(views.LIVE, {})
views.hunger_section(hunger, live.get("rows", []))

if hunger is not None and hu.mad_columns(hunger):
    st.subheader("What the ViT learns as data grows")
    views.vit_learning_section(hunger)

with st.expander("Run a small experiment now", expanded=st.session_state.get(views.LIVE_OPEN, False)):
    views.live_controls()
