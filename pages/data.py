"""Why ViTs need data: accuracy vs object position and vs training-set size, and what the ViT learns."""
import streamlit as st

from core.experiments import hunger_reading as hr
from core.experiments import pretraining as pt
from core.experiments import transfer as tf
from ui import data_views as views
from ui import transfer_views
from ui import require_entry
from ui.i18n import t

require_entry()

st.title(t("data.title"))
st.markdown(t("data.intro"))

st.subheader(t("data.where_title"))
views.position_section()

st.subheader(t("data.how_much_title"))
hunger = hr.load()
live = st.session_state.get(views.LIVE, {})
views.hunger_section(hunger, live.get("rows", []))

if hunger is not None and len(hr.converged(hunger)) and "transfer_25shot" in hunger.columns:
    st.subheader(t("data.transfer.title"))
    transfer_views.transfer_section(hunger, tf.load_embedded())

if hunger is not None and hr.mad_columns(hunger) and len(hr.converged(hunger)):
    st.subheader(t("data.vit_learns_title"))
    views.vit_learning_section(hunger)

pretraining = pt.load()
if pretraining is not None:
    st.subheader(t("data.pretraining.title"))
    transfer_views.pretraining_section(pretraining, pt.checkpoint_infos())

with st.expander(t("data.live_title"), expanded=st.session_state.get(views.LIVE_OPEN, False)):
    views.live_controls()
