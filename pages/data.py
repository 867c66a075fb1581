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
from ui.i18n import t

require_entry()

# every results file read once per version and every reading made once per version (ui.data_views.results)
hunger, version = views.results(hunger_results.HUNGER_FILE, hunger_results.load)
# the two series' rows and which sections the rows hold: (rows, variants?, converged runs?, attention columns?)
series, has_variants, converged, has_mad = views.reading("sections", version, lambda h: (
    hr.series_rows(h), h.model.isin(list(hu.VARIANTS)).any(), bool(len(hunger_results.converged(h))),
    bool(hr.mad_columns(h))), hunger) if hunger is not None else (None, False, False, False)
st.title(t("data.title"))
if hunger is not None and (answer := views.said("headline", version, lambda h: [vr.headline(h)], hunger)[0]):
    st.markdown(f"**{answer}**")
st.markdown(t("data.intro"))

st.subheader(t("data.where_title"))
views.position_section()

st.subheader(t("data.how_much_title"))
live = st.session_state.get(views.LIVE, {})
views.hunger_section(series, live.get("rows", []), version)

if has_variants:
    st.subheader(t("data.variants.title"))
    views.variants_section(hunger, version)

if converged and "transfer_25shot" in hunger.columns:
    st.subheader(t("data.transfer.title"))
    embedded, embedded_version = views.results(transfer.EMBEDDED_FILE, transfer.load_embedded)
    transfer_views.transfer_section(series, embedded, (version, embedded_version))

if has_mad and converged:
    st.subheader(t("data.vit_learns_title"))
    views.vit_learning_section(series, version)

pretraining_rows, pretraining_version = views.results(pretraining.PRETRAINING_FILE, pretraining.load)
if pretraining_rows is not None:
    st.subheader(t("data.pretraining.title"))
    infos = pretraining.checkpoint_infos()
    transfer_views.pretraining_section(pretraining_rows, infos, (pretraining_version, repr(infos)))

with st.expander(t("data.live_title"), expanded=st.session_state.get(views.LIVE_OPEN, False)):
    views.live_controls()
