"""Why ViTs need data: accuracy vs object position and vs training-set size."""
import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core import experiments as ex
from core import models, shapes
from ui import hunger_views as hv
from ui import require_entry
from ui import compute
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
        loaded = {n: cached_model(n) for n in NAMES}
        res = compute.run(ex.position_predictions, loaded.__getitem__, NAMES, n=1_000)
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

NEAR, FAR = radius + 2, radius + 6  # px: the 4-px bands wholly inside 8 px, and those from 12 px out


def band_accuracy(name: str, lo: float, hi: float) -> float:
    """Accuracy of `name` on test objects whose centre is lo <= distance < hi px from the middle."""
    b = bands[(bands.model == name) & (bands.distance_px - 2 >= lo) & (bands.distance_px + 2 <= hi)]
    return float((b.accuracy * b.images).sum() / max(1, b.images.sum()))


st.info(f"Objects within {NEAR} px of the middle → objects {FAR} px or more out: " + "; ".join(
    f"**{n}** {band_accuracy(n, 0, NEAR):.0%} → {band_accuracy(n, FAR, 99):.0%}" for n in NAMES) +
    ". The dashed line marks the edge of the centre-trained models' training positions. Compare each model "
    "with its own accuracy near the middle: vit-center had the smallest training budget of the five.")
st.caption(
    "This is the reverse of the textbook expectation, measured here. A likely reason: with a total stride of 32 on "
    "a 64-px canvas, the CNN's last feature map is 2×2 and zero padding tells each cell where the border is, so a "
    "CNN can learn absolute position (Kayhan & van Gemert 2020); trained only on centred objects it learns "
    "'centred-object' features. The centre-trained ViT's objects (14–26 px) still cover most patches, so most "
    "position embeddings did get trained.")
st.download_button("Download the accuracy grid as CSV", grid.to_csv(index=False), "position_accuracy.csv",
                   "text/csv")

st.subheader("Accuracy against training-set size")
st.markdown(
    "The same two architectures, trained from scratch on N procedural images (objects anywhere in the frame) "
    "and tested on 2,000 held-out images. **Budget rule:** every run gets the same compute, "
    f"{ex.HUNGER_STEPS} AdamW steps of {ex.HUNGER_BATCH} images "
    f"({ex.HUNGER_STEPS * ex.HUNGER_BATCH:,} images seen: {ex.HUNGER_STEPS * ex.HUNGER_BATCH / ex.SIZES[0]:.0f} "
    f"epochs at N = {ex.SIZES[0]}, {ex.HUNGER_STEPS * ex.HUNGER_BATCH / ex.SIZES[-1]:.1f} at N = {ex.SIZES[-1]:,}), "
    "with the embedded models' learning rates and schedule; 3 seeds, each drawing its own training set.")

hunger = ex.load_hunger()
live = st.session_state.get(hv.LIVE, {})
live_rows = live.get("rows", [])
if hunger is None:
    st.info("The shipped results (core/results/data_hunger.csv, made by `python -m core.experiments hunger`) are "
            "missing; the control below measures points live.")
    summary, crossings = {}, []
else:
    summary = ex.hunger_summary(hunger)
    crossings = ex.cnn_vit_crossings(summary)
if hunger is not None or live_rows:
    st.altair_chart(hv.chart(hunger, live_rows, crossings), width="stretch")
if hunger is not None:
    st.caption(f"Lines: mean over seeds; bars: ±1 standard deviation; dashed line: where the CNN and ViT means "
               f"cross, if they do. *vit + shift aug*: every training batch rolled by up to ±{ex.AUGMENT_PX} px. "
               f"Hollow diamonds: your live runs (1 seed). Made by `{hunger['command'].iloc[0]}` in "
               f"{hunger['seconds'].sum() / 60:.0f} CPU-minutes.")
    st.info(ex.hunger_reading(summary) + " Chance is 10 %.")
    card = models.model_card().get("models", {})
    if {"cnn", "vit"} <= set(card):
        st.markdown(
            "**Why this is not the textbook picture.** Both halves of the chart are about this small, fixed budget, "
            "not about data alone:\n"
            "- *Large N: the CNN learns faster per step.* Neither model has converged: with ~10× the compute on 60k "
            f"images the embedded models reach cnn {card['cnn']['test_accuracy']['full_frame']:.1%} and vit "
            f"{card['vit']['test_accuracy']['full_frame']:.1%}. Locality and weight sharing give the CNN a head start, "
            "while a ViT's loss sits near chance for its first few hundred steps (it first has to learn which "
            "patches belong together).\n"
            "- *Small N: both fail, the CNN by memorising.* With 250 images the CNN fits its training set perfectly "
            "(100 % training accuracy, checked for seed 0) yet scores near chance on new images: it memorises "
            "backgrounds and noise. The slower ViT has memorised less when the budget ends. Neither is a useful "
            "classifier there.\n\n"
            "In the ViT paper (Dosovitskiy et al. 2021, Fig. 4) ViT-B/32 trails a ResNet-50 after pre-training on 9M "
            "images and overtakes it only from 90M: the textbook crossover lies far beyond what a CPU can train. "
            "What this chart does show is the ViT's weaker bias as slower learning: for the same steps, it extracts "
            "less from more data.")
    st.download_button("Download the runs as CSV", hunger.to_csv(index=False), "data_hunger.csv", "text/csv")

with st.expander("Run a small experiment now", expanded=bool(live_rows or live.get("queue"))):
    hv.live_controls(hunger)
