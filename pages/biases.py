"""Bias by bias: each inductive bias the article names, measured on the picked CNN and ViT."""
import streamlit as st

from core import biases as bi
from core.attention import AttentionError
from ui import biases_views as views
from ui import present, require_entry, table_height
from ui.i18n import t, words
from ui.models import model_picker

require_entry()

st.title(t("biases.title"))
st.caption(t("biases.intro"))
c_cnn, c_vit = st.columns(2)
with c_cnn:
    cnn = model_picker(t("biases.cnn_model"), kinds=("cnn",), default=views.DEFAULTS["cnn"], key="bi-cnn")
with c_vit:
    vit = model_picker(t("biases.vit_model"), kinds=("vit",), default=views.DEFAULTS["vit"], key="bi-vit")
if cnn is None or vit is None:
    st.stop()


def section(title: str, body):
    """A section that says why it cannot measure this pair of models, and lets the rest of the page go on."""
    st.subheader(title)
    try:
        body()
    except (bi.BiasError, AttentionError) as e:
        st.warning(t("biases.cannot", error=words(e)))


def locality():
    with st.spinner(t("biases.computing")):
        loc = views.locality(cnn.name, vit.name)
    st.caption(t("biases.locality.intro"))  # hidden in projector mode: the chart must reach the first screen
    present.chart(views.locality_chart(views.locality_rows(loc)))
    views.maps_row([r["erf"] for r in loc["cnn"]], [views.stage_caption(r["stage"]) for r in loc["cnn"]])
    views.maps_row([r["attention"] for r in loc["vit"]], [t("biases.locality.layer", layer=r["layer"])
                                                          for r in loc["vit"]])
    st.info(words(views.locality_reading(loc)))


def sharing():
    st.caption(t("biases.sharing.intro"))
    dim, hidden = vit.net.embed_dim, vit.net.blocks[0].mlp.fc1.out_features
    st.dataframe(views.sharing_table(dim, hidden), hide_index=True, height=table_height(4))
    b, c = st.columns(2)
    b.markdown(f"**{cnn.name}**")
    b.dataframe(views.parts_table(cnn), hide_index=True, width="stretch")
    c.markdown(f"**{vit.name}**")
    c.dataframe(views.parts_table(vit), hide_index=True, width="stretch")
    n_cnn, n_vit = (sum(p.numel() for p in m.net.parameters()) for m in (cnn, vit))
    counts = bi.sharing_counts(dim, hidden)
    st.info(t("biases.sharing.reading_more" if n_vit > n_cnn else "biases.sharing.reading_fewer", cnn=cnn.name,
              vit=vit.name, n_cnn=n_cnn, n_vit=n_vit, ratio=n_vit / n_cnn, conv=counts["conv"], local=counts["local"]))


def hierarchy():
    with st.spinner(t("biases.computing")):
        m = views.cka(cnn.name, vit.name)
    st.caption(t("biases.hierarchy.intro", images=bi.PROBE_IMAGES))
    stage, layer = t("biases.hierarchy.cnn_axis"), t("biases.hierarchy.vit_axis")
    present.chart(views.cka_chart(m["cnn_vit"], stage, layer, f"{cnn.name} × {vit.name}")
                  | views.cka_chart(m["cnn_cnn"], stage, stage, f"{cnn.name} × {cnn.name}")
                  | views.cka_chart(m["vit_vit"], layer, layer, f"{vit.name} × {vit.name}"))
    st.info(words(views.cka_reading(m)))
    st.markdown(t("biases.hierarchy.paper"))


def patches():
    st.caption(t("biases.patches.intro"))
    with st.spinner(t("biases.computing")):
        df = views.order(cnn.name, vit.name)
    if df is None:
        st.info(t("biases.patches.needs_shapes"))
        return
    present.chart(views.order_charts(df))
    st.info(words(views.order_reading(df)))


def frequency():
    from core.experiments import fourier as fo

    res = fo.load()
    if res is None:
        st.info(t("biases.fourier.missing"))
        return
    st.caption(t("biases.fourier.intro", eps=float(res["eps"]), images=int(res["images"])))
    present.chart(views.fourier_chart(res))
    st.info(words(views.fourier_reading(res)))
    st.markdown(t("biases.fourier.paper"))


section(t("biases.locality.title"), locality)
section(t("biases.sharing.title"), sharing)
section(t("biases.hierarchy.title"), hierarchy)
section(t("biases.patches.title"), patches)
section(t("biases.fourier.title"), frequency)
