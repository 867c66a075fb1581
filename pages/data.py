"""Why ViTs need data: accuracy vs object position and vs training-set size, and what the ViT learns."""
import streamlit as st

from core import hunger as hu
from core import pretraining as pt
from ui import data_views as views
from ui import require_entry
from ui.i18n import t

require_entry()

st.title(t("data.title"))
st.markdown(t("data.intro"))

st.subheader(t("data.where_title"))
views.position_section()

st.subheader(t("data.how_much_title"))
hunger = hu.load()
live = st.session_state.get(views.LIVE, {})
views.hunger_section(hunger, live.get("rows", []))

if hunger is not None and hu.mad_columns(hunger):
    st.subheader(t("data.vit_learns_title"))
    views.vit_learning_section(hunger)

transfer = pt.load()
if transfer is not None:
    st.subheader(t("data.pretraining.title"))
    views.pretraining_section(transfer, pt.checkpoint_infos())

with st.expander(t("data.live_title"), expanded=st.session_state.get(views.LIVE_OPEN, False)):
    views.live_controls()
