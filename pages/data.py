"""Why ViTs need data: accuracy vs object position and vs training-set size."""
import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core import attention as at
from core import experiments as ex
from core import hunger as hu
from core import models, shapes
from ui import hunger_views as hv
from ui import require_entry
from ui import compute
from ui.models import cached_model

require_entry()

st.title("Why ViTs need data")
st.markdown(
    "Two ways to ask what an architecture's built-in assumptions are worth. **Where**: train on objects near the "
    "centre only, then test everywhere. **How much**: train on more and more images and watch who learns faster. "
    "A CNN slides the same kernels over every position; a ViT also applies the same patch embedding and MLPs to "
    "every patch, but how patches combine depends on learnt position embeddings and attention (ViT paper, §3.2).")
st.subheader("Trained on the centre, tested everywhere")

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

NEAR, FAR = radius + 2, radius + 6  # px: objects whose centre is within NEAR px, and those FAR px or more out


def band_accuracy(name: str, lo: float, hi: float) -> float:
    """Accuracy of `name` on test objects whose centre is lo <= distance < hi px from the middle."""
    d = np.abs(centres - shapes.CANVAS / 2).max(1)
    inside = (d >= lo) & (d < hi)
    return float((preds[name][inside] == labels[inside]).mean())


card = models.model_card().get("models", {})
budget = "; ".join(f"{n} {card[n]['recipe']['steps']:,} steps of {card[n]['recipe']['batch']}"
                   for n in NAMES if n in card)
st.info(f"Objects within {NEAR} px of the middle → objects {FAR} px or more out: " + "; ".join(
    f"**{n}** {band_accuracy(n, 0, NEAR):.0%} → {band_accuracy(n, FAR, 99):.0%}" for n in NAMES) +
    f". The dashed line marks the edge of the centre-trained models' training positions. Each was trained on "
    f"{' / '.join(sorted({format(card[n]['training_set']['images'], ',') for n in NAMES if n in card}))} images "
    f"({budget}; model card).")
drop = {n: band_accuracy(n, 0, NEAR) - band_accuracy(n, FAR, 99) for n in ("cnn-center", "vit-center")}
if drop["cnn-center"] > drop["vit-center"]:
    st.caption(
        f"Away from the centre the centre-trained CNN drops by {100 * drop['cnn-center']:.0f} points and the "
        f"centre-trained ViT by {100 * drop['vit-center']:.0f}: the reverse of the textbook expectation that convolution "
        "generalises across positions for free. A likely reason: with a total stride of 32 on a 64-px canvas, the "
        "CNN's last feature map is 2×2, and zero padding tells each cell where the border is, so a CNN can learn "
        "absolute position (Kayhan & van Gemert 2020); trained only on centred objects it learns 'centred-object' "
        f"features. The ViT's objects ({shapes.SIZE_RANGE[0]}–{shapes.SIZE_RANGE[1]} px) cover several 8-px patches "
        "wherever they are, and every position embedding gets gradient from every image, background patches "
        "included.")
else:
    st.caption(
        f"Away from the centre the centre-trained ViT drops by {100 * drop['vit-center']:.0f} points and the "
        f"centre-trained CNN by {100 * drop['cnn-center']:.0f}, as the textbook expects: the CNN's shared kernels carry "
        "what it learnt at the centre to other positions.")
st.download_button("Download the accuracy grid as CSV", grid.to_csv(index=False), "position_accuracy.csv",
                   "text/csv")

st.subheader("Accuracy against training-set size")
hunger = hu.load()
live = st.session_state.get(hv.LIVE, {})
live_rows = live.get("rows", [])
if hunger is None:
    st.info("The shipped results (core/results/data_hunger.csv, made by `python -m core.experiments hunger`) are "
            "missing; the control below measures points live.")
else:
    st.markdown(hu.method(hunger))
    if hu.grid_of(hunger.command.iloc[0]) is hu.QUICK:
        st.warning(f"These are the reduced CPU runs (`--quick`: {len(hu.QUICK.sizes)} sizes up to "
                   f"{hu.fmt_n(max(hu.QUICK.sizes))}, 1 seed, one configuration). The full grid "
                   f"({len(hu.FULL.sizes)} sizes up to {hu.fmt_n(max(hu.FULL.sizes))}, {hu.FULL.seeds} seeds, "
                   f"{len(hu.FULL.lrs) * len(hu.FULL.weight_decays)} configurations) is for a GPU: "
                   "`python -m core.experiments hunger --device cuda`.")
if hunger is not None or live_rows:
    st.altair_chart(hv.accuracy_chart(hunger, live_rows), width="stretch")
if hunger is not None:
    st.caption("Solid: accuracy on the held-out test images (bars: ±1 standard deviation over seeds, where there "
               "is more than one); dashed: accuracy on the training images themselves, at the same checkpoint. "
               "A gap between the two is memorisation. Hollow diamonds: your live runs. Chance is 10 %.")
    st.info(hu.reading(hunger) + " " + hu.augmentation_effect(hunger))
    st.caption(hu.convergence_note(hunger))
    test = hu.summary(hunger)
    ahead = [n for n in sorted(set(test.get("cnn", {})) & set(test.get("vit", {})))
             if test["vit"][n][0] > test["cnn"][n][0]]
    top = hu.fmt_n(int(hunger.train_size.max()))
    st.markdown(
        "**What the papers found.** In the ViT paper (Dosovitskiy et al. 2021, Fig. 4: pre-training on subsets of "
        "JFT-300M, few-shot evaluation on ImageNet), ViT-B/32 does much worse than a ResNet-50 after pre-training on "
        "9M images but better from 90M on; ResNets do better on small pre-training sets and plateau sooner. DeiT "
        "(Touvron et al. 2021) trained ViTs competitively on ImageNet-1k alone (1.3M images) with strong "
        "augmentation, regularisation and distillation.\n\n"
        + ("**What this experiment shows.** " + (
            f"The ViT is ahead at N = {', '.join(hu.fmt_n(n) for n in ahead)}. On this small, synthetic task a "
            "ViT can match a CNN long before the millions of images the paper needed: ten shape classes of a few "
            "patches each are far easier than ImageNet."
            if ahead else
            f"The CNN is ahead at every N measured, up to {top}. That agrees with the papers: the crossover they "
            f"report lies at tens of millions of images, far beyond {top}. The CNN's locality and weight sharing fit "
            "this task (local shapes on smooth backgrounds), so it needs fewer images for the same accuracy; the "
            "ViT has to learn from data which patches belong together.")))
    st.download_button("Download the runs as CSV", hunger.to_csv(index=False), "data_hunger.csv", "text/csv")

    if hu.mad_columns(hunger):
        st.subheader("What the ViT learns as data grows")
        st.markdown(
            "The ViT paper's Fig. 7 (ViT-L/16 pre-trained on JFT-300M) found heads in the lowest layers that "
            "attend locally, attention distance that grows with depth, and position embeddings in which nearby "
            "patches are most alike (2-D structure learnt from data). Here the same measures for every ViT run: "
            f"the **mean attention distance** of each layer on {hu.PROBE_SIZE} fixed probe images (the attention-"
            "weighted distance between a patch and the patches it attends to, in pixels; the class token's share is "
            "left out), and the **locality** of the position embeddings (the correlation between two patches' "
            "embedding similarity and their closeness on the grid).")
        uniform = at.uniform_attention_distance(8, 8, 1)
        st.altair_chart(hv.attention_distance_chart(hunger))
        st.altair_chart(hv.locality_chart(hunger), width="stretch")
        st.info(hu.vit_learning_reading(hunger, uniform))

with st.expander("Run a small experiment now", expanded=st.session_state.get(hv.LIVE_OPEN, False)):
    hv.live_controls()
