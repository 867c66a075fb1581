"""Home: the ideas the app shows, each linked to the page that shows it."""
import json
from pathlib import Path

import streamlit as st
from PIL import Image

from core.card import model_card
from ui import charts, page_link, require_entry, wrap_page_links
from ui.data_answer import data_answer
from ui.i18n import t, words

require_entry()
wrap_page_links()  # the links' labels are sentences: whole on a phone too
PICTURES = Path(__file__).resolve().parents[1] / "ui"  # python -m ui.home_picture draws them

st.title(t("app.name"))
st.markdown(t("home.intro"))
page_link("tour", t("home.link_tour"))  # "start here" for a lecture
with st.container(horizontal=True, gap="medium"):  # side by side, or one above the other on a phone
    for panel in ("cnn", "vit"):
        charts.image("home.picture", (panel,), lambda: Image.open(PICTURES / f"{t('home.picture')}_{panel}.png"),
                     width="content")

left, right = st.columns(2, gap="large")
with left:
    st.subheader(t("home.cnn_title"))
    st.markdown(t("home.cnn_body"))
    page_link("biases", t("home.link_biases"))
    st.subheader(t("home.equivariance_title"))
    st.markdown(t("home.equivariance_body"))
    page_link("equivariance", t("home.link_equivariance"))
    page_link("sensitivity", t("home.link_sensitivity"))
with right:
    st.subheader(t("home.vit_title"))
    st.markdown(t("home.vit_body"))
    st.subheader(t("home.learns_title"))
    st.markdown(t("home.learns_body"))
    page_link("attention", t("home.link_attention"))
    page_link("explain", t("home.link_explain"))
    st.subheader(t("home.data_title"))
    st.markdown(t("home.data_body"))
    if (answer := data_answer()) is not None:
        st.markdown(f"**{words(answer)}**")
    page_link("data", t("home.link_data"))

st.divider()
card = model_card()["models"]
if card:
    st.subheader(t("home.models_title"))
    st.caption(t("home.models_caption"))
    # two tables, each led by the model (whole: 'cnn-center', not broken at its hyphen), that wrap their other cells:
    # side by side on a laptop, one under the other and inside a 390-px phone's width (one nine-column table scrolled
    # sideways there)
    st.html('<style>.st-key-home_models td:first-child p { white-space: nowrap; }</style>')
    built, trained = st.container(key="home_models").columns(2, gap="medium")
    shipped = (json.dumps(card, sort_keys=True),)  # the tables are made once per card and language
    with built:
        charts.table("home.built", shipped, lambda: [
            {t("home.col_model"): n, t("home.col_architecture"): c["timm_class"].rsplit(".", 1)[-1],
             t("home.col_parameters"): f"{c['parameters'] / 1e6:.2f} M",
             t("home.col_flops"): f"{c['flops_per_image'] / 1e6:.1f}"} for n, c in card.items()], hide_index=True)
    with trained:
        charts.table("home.trained", shipped, lambda: [
            {t("home.col_model"): n, t("home.col_images"): f"{c['training_set']['images']:,}",
             t("home.col_trained_on"): t(f"home.region_{c['training_set']['region']}"),
             t("home.col_accuracy_full"): f"{c['test_accuracy']['full_frame']:.1%}",
             t("home.col_accuracy_centre"): f"{c['test_accuracy']['center']:.1%}"} for n, c in card.items()],
            hide_index=True)
else:
    st.warning(t("home.models_missing"))
