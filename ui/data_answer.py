"""The data page's short answer, cached for the home page (the results file and its readings need no torch)."""
import streamlit as st

from core.experiments import hunger_results, variants_reading
from core.messages import Message


@st.cache_data(show_spinner=False)
def data_answer() -> Message | None:
    """core.experiments.variants_reading.headline of the shipped data-hunger rows (None without the file)."""
    rows = hunger_results.load()
    return None if rows is None else variants_reading.headline(rows)
