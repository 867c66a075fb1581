"""Why ViTs need data: accuracy vs object position (and, to come, vs training-set size)."""
import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core import experiments as ex
from core import models, shapes
from ui import require_entry
from ui.models import cached_model

require_entry()

st.title("Why ViTs need data")
st.markdown(
    "A CNN gets translation for free: the same kernels slide over every position and global pooling forgets "
    "where the object was. A ViT has to *learn* that a shape means the same thing in every patch, and each "
    "position embedding only learns from the positions it saw. Train both only on objects near the centre, "
    "then test them everywhere:")

NAMES = ex.POSITION_MODELS


@st.cache_data(max_entries=2, show_spinner="Classifying 1,000 test images with four models…")
def predictions() -> tuple[dict, np.ndarray, np.ndarray, bool]:
    """The shipped results if present (instant), else a smaller live measurement."""
    res = ex.load_positions()
    shipped = res is not None
    if not shipped:
        res = ex.position_predictions(cached_model, NAMES, n=1_000)
    return {n: res[f"pred_{n}"] for n in NAMES}, res["labels"], res["centres"], shipped


try:
    preds, labels, centres, shipped = predictions()
except models.ModelError as e:
    st.error(f"The embedded models are needed here: {e}")
    st.stop()
if not shipped:
    st.warning("core/results/positions.npz is missing, so this is a smaller live measurement; "
               "`python -m core.experiments positions` makes the full one.")

cell = st.select_slider("Cell size (px)", [4, 8, 16], value=8, key="cell",
                        help="Test images are grouped by where the object's centre falls.")
rows = []
for name in NAMES:
    acc, counts = ex.position_accuracy(preds[name], labels, centres, cell=cell)
    for (i, j), a in np.ndenumerate(acc):
        rows.append({"model": name, "x": j * cell + cell // 2, "y": i * cell + cell // 2,
                     "accuracy": a, "images": int(counts[i, j])})
grid = pd.DataFrame(rows).dropna()

heat = alt.Chart(grid).mark_rect().encode(
    x=alt.X("x:O", title="object centre x (px)"), y=alt.Y("y:O", title="object centre y (px)"),
    color=alt.Color("accuracy:Q", scale=alt.Scale(domain=[0, 1], scheme="viridis"), title="accuracy"),
    tooltip=["model", "x", "y", alt.Tooltip("accuracy:Q", format=".1%"), "images"],
).properties(width=180, height=180).facet(
    facet=alt.Facet("model:N", sort=list(NAMES), title=None), columns=4)
st.altair_chart(heat)
radius = shapes.CENTER_RADIUS
st.caption(f"Accuracy on {len(labels):,} seeded test images with objects anywhere, by where the object's centre "
           f"falls. The *-center* models only ever saw centres within {radius} px of the middle "
           f"({32 - radius}–{32 + radius} px). Objects are {shapes.SIZE_RANGE[0]}–{shapes.SIZE_RANGE[1]} px wide, so "
           "even 'edge' objects overlap the centre a little.")

bands = pd.DataFrame([dict(r, model=n) for n in NAMES
                      for r in ex.distance_accuracy(preds[n], labels, centres)])
line = alt.Chart(bands).mark_line(point=True).encode(
    x=alt.X("distance_px:Q", title="object centre's distance from the middle (px, Chebyshev)"),
    y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1]), title="accuracy"),
    color=alt.Color("model:N", sort=list(NAMES), scale=alt.Scale(scheme="category10"), title=None),
    tooltip=["model", "distance_px", alt.Tooltip("accuracy:Q", format=".1%"), "images"])
rule = alt.Chart(pd.DataFrame({"d": [radius]})).mark_rule(strokeDash=[4, 4], color="#888").encode(x="d:Q")
st.altair_chart(rule + line, width="stretch")

far = {n: float(bands[(bands.model == n) & (bands.distance_px > radius + 4)].eval("accuracy * images").sum()
                 / max(1, bands[(bands.model == n) & (bands.distance_px > radius + 4)]["images"].sum()))
       for n in NAMES}
st.info(f"Away from the centre (more than {radius + 4} px out), **cnn-center** keeps {far['cnn-center']:.0%} "
        f"(full-frame cnn: {far['cnn']:.0%}) while **vit-center** keeps {far['vit-center']:.0%} "
        f"(full-frame vit: {far['vit']:.0%}). The dashed line marks the edge of the centre-trained models' "
        "training positions.")
st.caption(
    "This is the reverse of the textbook expectation, measured here. A likely reason: with a total stride of 32 on "
    "a 64-px canvas, the CNN's last feature map is 2×2 and zero padding tells each cell where the border is, so a "
    "CNN can learn absolute position (Kayhan & van Gemert 2020); trained only on centred objects it learns "
    "'centred-object' features. The centre-trained ViT's objects (14–26 px) still cover most patches, so most "
    "position embeddings did get trained.")
st.download_button("Download the accuracy grid as CSV", grid.to_csv(index=False), "position_accuracy.csv",
                   "text/csv")

st.subheader("Accuracy against training-set size")
st.info("Not measured yet: the data-hunger experiment (CNN and ViT trained on 250 to 16k images, 3 seeds each) "
        "needs about an hour of both CPU cores and lands with its own results file.")
