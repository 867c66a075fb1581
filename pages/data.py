"""Do ViTs need more data? Accuracy vs object position and vs training-set size, is it this CNN, and what the ViT learns."""
import streamlit as st

from core.experiments import hunger as hu
from core.experiments import hunger_reading as hr
from core.experiments import hunger_results
from core.experiments import variants_reading as vr
from core.experiments import pretraining
from core.experiments import transfer
from ui import data_views as views
from ui import transfer_views
from ui import require_entry
from ui.i18n import t, words

require_entry()

hunger = hunger_results.load()
series = hr.series_rows(hunger)
st.title(t("data.title"))
if hunger is not None and (answer := vr.headline(hunger)) is not None:
    st.markdown(f"**{words(answer)}**")
st.markdown(t("data.intro"))

st.subheader(t("data.where_title"))
views.position_section()

st.subheader(t("data.how_much_title"))
live = st.session_state.get(views.LIVE, {})
views.hunger_section(series, live.get("rows", []))

if hunger is not None and hunger.model.isin(list(hu.VARIANTS)).any():
    st.subheader(t("data.variants.title"))
    views.variants_section(hunger)

if hunger is not None and len(hunger_results.converged(hunger)) and "transfer_25shot" in hunger.columns:
    st.subheader(t("data.transfer.title"))
    transfer_views.transfer_section(series, transfer.load_embedded())

if hunger is not None and hr.mad_columns(hunger) and len(hunger_results.converged(hunger)):
    st.subheader(t("data.vit_learns_title"))
    views.vit_learning_section(series)

pretraining_rows = pretraining.load()
if pretraining_rows is not None:
    st.subheader(t("data.pretraining.title"))
    transfer_views.pretraining_section(pretraining_rows, pretraining.checkpoint_infos())

with st.expander(t("data.live_title"), expanded=st.session_state.get(views.LIVE_OPEN, False)):
    views.live_controls()
