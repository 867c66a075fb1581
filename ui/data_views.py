"""The data page's sections: accuracy by object position, accuracy against training-set size, what the ViT learns,
and the "run a small experiment now" control (the numbers come from core.experiments and core.hunger)."""
from __future__ import annotations

import math
import threading
import time

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core import attention as at
from core import experiments as ex
from core import hunger as hu
from core import models, shapes
from ui import compute, present
from ui.models import cached_model, colour_scale

LIVE = "live_hunger"  # session state: {"rows": finished live runs, "queue": runs still to do}
LIVE_OPEN = "live_hunger_open"  # session state: the live panel stays open once used (Cancel must not fold it)
LIVE_SIZES = (250, 500, 1_000, 2_000, 4_000)
LIVE_STEPS = (25, 100, 300, 1_000)
# cnn and vit in their colours on every page; the augmented runs in two hues no embedded model has (vit-center's
# orange is on the chart just above)
SERIES_COLOURS = {"cnn": models.EMBEDDED["cnn"].colour, hu.series_name("cnn", hu.AUGMENT_PX): "#8c564b",
                  "vit": models.EMBEDDED["vit"].colour, hu.series_name("vit", hu.AUGMENT_PX): "#bcbd22"}
METRICS = {"test_accuracy": "test (new images)", "train_accuracy": "training images"}


# --- where: trained on the centre, tested everywhere ----------------------------------------------------------------
POSITION_NAMES = ex.POSITION_MODELS


@st.cache_data(max_entries=2, show_spinner="Classifying 1,000 test images with four models…")
def _position_predictions() -> tuple[dict, np.ndarray, np.ndarray, bool]:
    """The shipped results if present (instant), else a smaller live measurement."""
    res = ex.load_positions()
    shipped = res is not None
    if not shipped:
        loaded = {n: cached_model(n) for n in POSITION_NAMES}
        res = compute.run(ex.position_predictions, loaded.__getitem__, POSITION_NAMES, n=1_000)
    return {n: res[f"pred_{n}"] for n in POSITION_NAMES}, res["labels"], res["centres"], shipped


def warm_up() -> None:
    """The shipped results, read before the first visitor asks (ui/warmup.py)."""
    _position_predictions()


def position_section() -> None:
    """Accuracy by where the object is, for models trained on the whole frame and on the centre only."""
    try:
        preds, labels, centres, shipped = _position_predictions()
    except models.ModelError as e:
        st.error(f"The embedded models are needed here: {e}")
        return
    if not shipped:
        st.warning("core/results/positions.npz is missing, so this is a smaller live measurement; "
                   "`python -m core.experiments positions` makes the full one.")
    _position_heatmap_section(preds, labels, centres)
    radius = shapes.CENTER_RADIUS
    present.chart(_distance_chart(preds, labels, centres), width="stretch")
    near, far = radius + 2, radius + 6  # px: objects whose centre is within `near` px, and those `far` or more out
    acc = {n: (ex.band_accuracy(preds[n], labels, centres, 0, near), ex.band_accuracy(preds[n], labels, centres, far, 99))
           for n in POSITION_NAMES}
    card = models.model_card().get("models", {})
    budget = "; ".join(f"{n} {card[n]['recipe']['steps']:,} steps of {card[n]['recipe']['batch']}"
                       for n in POSITION_NAMES if n in card)
    images = " / ".join(sorted({f"{card[n]['training_set']['images']:,}" for n in POSITION_NAMES if n in card}))
    st.info(f"Objects within {near} px of the middle → objects {far} px or more out: " + "; ".join(
        f"**{n}** {a:.0%} → {b:.0%}" for n, (a, b) in acc.items()) +
        ". The dashed line marks the edge of the centre-trained models' training positions. Each was trained on "
        f"{images} images ({budget}; model card).")
    st.caption(_centre_reading(acc))


@st.fragment  # the cell size changes only the heatmaps: rerun them alone
def _position_heatmap_section(preds, labels, centres) -> None:
    cell = st.select_slider("Cell size (px)", [4, 8, 16], value=8, key="cell",
                            help="Test images are grouped by where the object's centre falls; a blank cell "
                                 "holds no test object (object centres cannot lie near the frame's edge).")
    grid = _position_grid(preds, labels, centres, cell)
    present.chart(_position_heatmaps(grid))
    radius = shapes.CENTER_RADIUS
    st.caption(f"Accuracy on {len(labels):,} seeded test images with objects anywhere, by where the object's centre "
               f"falls. The *-center* models only ever saw centres within {radius} px of the middle "
               f"({32 - radius}–{32 + radius} px). Objects are {shapes.SIZE_RANGE[0]}–{shapes.SIZE_RANGE[1]} px wide and "
               "always whole inside the frame, so no centre lies near the edge: blank cells hold no test object.")
    st.download_button("Download the accuracy grid as CSV", grid.to_csv(index=False), "position_accuracy.csv",
                       "text/csv")


def _position_grid(preds, labels, centres, cell: int) -> pd.DataFrame:
    rows = []
    for name in POSITION_NAMES:
        acc, counts = ex.position_accuracy(preds[name], labels, centres, cell=cell)
        for (i, j), a in np.ndenumerate(acc):
            rows.append({"model": name, "x": j * cell + cell // 2, "y": i * cell + cell // 2,
                         "accuracy": a, "images": int(counts[i, j])})
    return pd.DataFrame(rows).dropna()


def _position_heatmaps(grid: pd.DataFrame) -> alt.FacetChart:
    return alt.Chart(grid).mark_rect().encode(
        x=alt.X("x:O", title="object centre x (px)"), y=alt.Y("y:O", title="object centre y (px)"),
        color=alt.Color("accuracy:Q", scale=alt.Scale(domain=[0, 1], scheme="viridis"), title="accuracy"),
        tooltip=["model", "x", "y", alt.Tooltip("accuracy:Q", format=".1%"), "images"],
    ).properties(width=180, height=180).facet(
        facet=alt.Facet("model:N", sort=list(POSITION_NAMES), title=None), columns=4)


def _distance_chart(preds, labels, centres) -> alt.LayerChart:
    bands = pd.DataFrame([dict(r, model=n) for n in POSITION_NAMES
                          for r in ex.distance_accuracy(preds[n], labels, centres)])
    line = alt.Chart(bands).mark_line(point=True).encode(
        x=alt.X("distance_px:Q", title="object centre's distance from the middle (px, Chebyshev)"),
        y=alt.Y("accuracy:Q", scale=alt.Scale(domain=[0, 1]), title="accuracy"),
        color=alt.Color("model:N", sort=list(POSITION_NAMES), scale=colour_scale(POSITION_NAMES), title=None),
        tooltip=["model", "distance_px", alt.Tooltip("accuracy:Q", format=".1%"), "images"])
    rule = alt.Chart(pd.DataFrame({"d": [shapes.CENTER_RADIUS]})).mark_rule(strokeDash=[4, 4], color="#888").encode(
        x="d:Q")
    return rule + line


def _centre_reading(acc: dict[str, tuple[float, float]]) -> str:
    """Which centre-trained model loses more away from the centre, and the likely reason, from the measured
    (near, far) accuracies."""
    (cn, cf), (vn, vf) = acc["cnn-center"], acc["vit-center"]
    if cn - cf > vn - vf:
        return (f"Away from the centre the centre-trained CNN falls from {cn:.0%} to {cf:.0%} and the centre-trained "
                f"ViT only from {vn:.0%} to {vf:.0%}: the reverse of the textbook expectation that convolution generalises across positions "
                "for free. A likely reason: with a total stride of 32 on a 64-px canvas, the CNN's last feature map is "
                "2×2, and zero padding tells each cell where the border is, so a CNN can learn absolute position "
                "(Kayhan & van Gemert 2020); trained only on centred objects it learns 'centred-object' features. The "
                f"ViT's objects ({shapes.SIZE_RANGE[0]}–{shapes.SIZE_RANGE[1]} px) cover several 8-px patches "
                "wherever they are, and every position embedding gets gradient from every image, background patches "
                "included.")
    return (f"Away from the centre the centre-trained ViT falls from {vn:.0%} to {vf:.0%} and the centre-trained CNN "
            f"only from {cn:.0%} to {cf:.0%}, as the textbook expects: the CNN's shared kernels carry what it learnt at the centre to "
            "other positions.")


# --- how much: accuracy against training-set size ----------------------------------------------------------------------
def _series(df: pd.DataFrame) -> list[str]:
    return [hu.series_name(m, a) for m, a in zip(df.model, df.augment_px)]


def _log_x(sizes) -> alt.X:
    return alt.X("train_size:Q", scale=alt.Scale(type="log"), title="training images N (log scale)",
                 axis=alt.Axis(values=sorted(sizes), labelExpr="datum.value >= 1000 ? datum.value / 1000 + 'k' : datum.value"))


def hunger_section(hunger: pd.DataFrame | None, live_rows: list[dict]) -> None:
    """How the shipped runs were made, the accuracy chart with live points, and what the data say."""
    if hunger is None:
        st.info("The shipped results (core/results/data_hunger.csv, made by `python -m core.experiments hunger`) "
                "are missing; the control below measures points live.")
    else:
        st.markdown(hu.method(hunger))
        if hu.grid_of(hunger.command.iloc[0]) is hu.QUICK:
            full = hu.FULL
            st.warning(f"These are the reduced CPU runs (`--quick`: {len(hu.QUICK.sizes)} sizes up to "
                       f"{hu.fmt_n(max(hu.QUICK.sizes))}, 1 seed, one configuration). The full grid "
                       f"({len(full.sizes)} sizes up to {hu.fmt_n(max(full.sizes))}, {full.seeds} seeds, "
                       f"{len(full.configs)} configurations) is for a GPU: "
                       "`python -m core.experiments hunger --device cuda`.")
    if hunger is not None or live_rows:
        present.chart(accuracy_chart(hunger, live_rows), width="stretch")
    if hunger is None:
        return
    st.caption("Solid: accuracy on the held-out test images (bars: ±1 standard deviation over seeds, where there "
               "is more than one); dashed: accuracy on the training images themselves, at the same checkpoint. "
               "A gap between the two is memorisation. Hollow diamonds: your live runs. Chance is 10 %.")
    st.info(hu.reading(hunger) + " " + hu.augmentation_effect(hunger))
    st.caption(hu.convergence_note(hunger))
    st.markdown(hu.PAPERS + "\n\n" + hu.against_the_papers(hunger))
    st.download_button("Download the runs as CSV", hunger.to_csv(index=False), "data_hunger.csv", "text/csv")


def vit_learning_section(hunger: pd.DataFrame) -> None:
    """Mean attention distance per layer and position-embedding locality of every ViT run, against N."""
    st.markdown(
        "The ViT paper's Fig. 7 (ViT-L/16 pre-trained on JFT-300M) found heads in the lowest layers that "
        "attend locally, attention distance that grows with depth, and position embeddings in which nearby "
        "patches are most alike (2-D structure learnt from data). Here the same measures for every ViT run: "
        f"the **mean attention distance** of each layer on {hu.PROBE_SIZE} fixed probe images (the attention-"
        "weighted distance between a patch and the patches it attends to, in pixels; the class token's share is "
        "left out), and the **locality** of the position embeddings (the correlation between two patches' "
        "embedding similarity and their closeness on the grid).")
    present.chart(attention_distance_chart(hunger))
    present.chart(locality_chart(hunger), width="stretch")
    st.info(hu.vit_learning_reading(hunger, at.uniform_attention_distance(8, 8, 1)))


def accuracy_chart(shipped: pd.DataFrame | None, live_rows: list[dict]) -> alt.LayerChart:
    """Test accuracy (solid, ±1 std over seeds) and training accuracy (dashed) against N, one colour per series;
    live runs as hollow diamonds."""
    frames = []
    if shipped is not None:
        frames.append(shipped.assign(series=_series(shipped)).melt(
            id_vars=["series", "train_size", "seed"], value_vars=list(METRICS), var_name="metric", value_name="accuracy"))
    live = pd.DataFrame(live_rows)
    sizes = set(frames[0].train_size) if frames else set()
    sizes |= set(live.train_size) if len(live) else set()
    x = _log_x(sizes)
    colour = alt.Color("series:N", title=None, scale=alt.Scale(domain=list(SERIES_COLOURS),
                                                                range=list(SERIES_COLOURS.values())))
    y = alt.Y("mean(accuracy):Q", title="accuracy", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"))
    layers = []
    if frames:
        data = frames[0].assign(metric=lambda d: d.metric.map(METRICS))
        base = alt.Chart(data)
        dash = alt.StrokeDash("metric:N", title=None, sort=list(METRICS.values()),
                              scale=alt.Scale(domain=list(METRICS.values()), range=[[1, 0], [5, 4]]),
                              legend=None)  # the caption says it: Streamlit's theme draws no stroke symbols
        layers += [
            base.mark_line(point=True).encode(
                x=x, y=y, color=colour, strokeDash=dash, detail="metric:N",
                tooltip=["series:N", "metric:N", alt.Tooltip("train_size:Q", format=",d", title="N"),
                         alt.Tooltip("mean(accuracy):Q", format=".1%", title="mean"),
                         alt.Tooltip("stdev(accuracy):Q", format=".1%", title="std over seeds"),
                         alt.Tooltip("count():Q", title="seeds")]),
            base.transform_filter(alt.datum.metric == METRICS["test_accuracy"]).mark_errorbar(
                extent="stdev", ticks=True).encode(x=x, y=alt.Y("accuracy:Q", title="accuracy"), color=colour),
        ]
    if len(live):
        live = live.assign(series=_series(live), source=live["steps"].map(lambda s: f"live, {s} steps"))
        layers.append(alt.Chart(live).mark_point(shape="diamond", filled=False, size=140, strokeWidth=2).encode(
            x=x, y=alt.Y("test_accuracy:Q", title="accuracy"), color=colour,
            tooltip=["series:N", "source:N", alt.Tooltip("train_size:Q", format=",d", title="N"),
                     alt.Tooltip("test_accuracy:Q", format=".1%", title="test"),
                     alt.Tooltip("train_accuracy:Q", format=".1%", title="training"), "seconds:Q"]))
    return alt.layer(*layers).properties(height=380)


def attention_distance_chart(shipped: pd.DataFrame) -> alt.HConcatChart:
    """Mean attention distance of every layer against N (mean over seeds), one panel per ViT series, with the
    uniform-attention baseline."""
    vit = shipped[shipped.model == "vit"]
    cols = hu.mad_columns(vit)
    data = vit.assign(series=_series(vit)).melt(id_vars=["series", "train_size"], value_vars=cols, var_name="layer",
                                                value_name="distance")
    data["layer"] = data.layer.str.rsplit("_", n=1).str[1].astype(int)
    uniform = at.uniform_attention_distance(8, 8, 1)
    x = _log_x(set(vit.train_size))
    lines = alt.Chart(data).mark_line(point=True).encode(
        x=x, y=alt.Y("mean(distance):Q", title="mean attention distance (px)", scale=alt.Scale(domain=[0, 40])),
        color=alt.Color("layer:O", scale=alt.Scale(scheme="viridis"), title="layer"),
        tooltip=["series:N", "layer:O", alt.Tooltip("train_size:Q", format=",d", title="N"),
                 alt.Tooltip("mean(distance):Q", format=".1f", title="px")])
    rule = alt.Chart(pd.DataFrame({"d": [uniform], "label": [f"uniform attention: {uniform:.1f} px"]}))
    base_line = rule.mark_rule(strokeDash=[4, 4], color="#555").encode(y="d:Q")
    base_text = rule.mark_text(align="left", dx=4, dy=-6, color="#333").encode(y="d:Q", text="label:N", x=alt.value(0))
    return _facet(lines, base_line, base_text, data)


def _facet(lines, rule, text, data) -> alt.HConcatChart:
    # one panel per series by hand: a faceted chart cannot share the baseline layer, which has its own data
    panels = []
    for series in sorted(data.series.unique()):
        d = data[data.series == series]
        panels.append(alt.layer(lines.properties(data=d), rule, text).properties(title=series, width=320, height=260))
    return alt.hconcat(*panels)


def locality_chart(shipped: pd.DataFrame) -> alt.LayerChart:
    vit = shipped[shipped.model == "vit"]
    data = vit.assign(series=_series(vit))
    present = [s for s in SERIES_COLOURS if s in set(data.series)]
    colour = alt.Color("series:N", title=None, scale=alt.Scale(domain=present,
                                                                range=[SERIES_COLOURS[s] for s in present]))
    line = alt.Chart(data).mark_line(point=True).encode(
        x=_log_x(set(vit.train_size)),
        y=alt.Y("mean(pos_embed_locality):Q", title="position-embedding locality", scale=alt.Scale(domain=[-0.5, 1])),
        color=colour, tooltip=["series:N", alt.Tooltip("train_size:Q", format=",d", title="N"),
                               alt.Tooltip("mean(pos_embed_locality):Q", format=".2f", title="locality")])
    zero = alt.Chart(pd.DataFrame({"y": [0]})).mark_rule(strokeDash=[4, 4], color="#555").encode(y="y:Q")
    return alt.layer(zero, line).properties(height=260)


# --- the live run ------------------------------------------------------------------------------------------------
@st.cache_resource
def _live_slot() -> threading.BoundedSemaphore:
    # one live training run at a time on the whole server: forty students pressing "Train" at once would
    # otherwise starve every other session of CPU
    return threading.BoundedSemaphore(1)


@st.cache_resource(show_spinner="Rendering the held-out test images…")
def _live_test_set():
    return hu.test_set()


@st.cache_resource
def _live_rates() -> dict:
    """Seconds per rendered image, per training step and per evaluated image of each model: measured on the
    2-core development machine, idle, one torch thread (N = 250, 100 steps: cnn 16.1 s, estimate 14.4 s; vit 27.7 s,
    estimate 27.6 s), then replaced by what each finished live run measures on this server."""
    return {"render": 0.68e-3, "step": {"cnn": 0.10, "vit": 0.23}, "eval": {"cnn": 1.33e-3, "vit": 1.44e-3}}


def live_estimate(runs: list[tuple[str, int, int]], rates: dict, test_images: int = 2_000) -> float:
    """Seconds for the queued runs: rendering the N training images (whole chunks), the steps, and evaluating
    the test images and up to 2,000 training images."""
    total = 0.0
    for model, n, steps in runs:
        rendered = math.ceil(n / hu.CHUNK) * hu.CHUNK
        total += (rates["render"] * rendered + rates["step"][model] * steps
                  + rates["eval"][model] * (test_images + min(n, hu.TRAIN_ACCURACY_IMAGES)))
    return total


def live_controls() -> None:
    """Pick a few N, models and a step budget; train them one after another with a progress bar and Cancel.

    Each finished run is stored in session state and the page reruns, so its point appears on the chart above
    while the next run trains. Cancel (or any other widget) interrupts the running script at its next progress
    update; Cancel also empties the queue.
    """
    live = st.session_state.setdefault(LIVE, {"rows": [], "queue": []})
    busy = bool(live["queue"])
    c1, c2, c3 = st.columns([2, 2, 2])
    sizes = c1.multiselect("Training images N", LIVE_SIZES, default=[250, 2_000], key="live_sizes", disabled=busy,
                           format_func=lambda n: f"{n:,}")
    picked = c2.multiselect("Models", list(hu.ARCHS), default=list(hu.ARCHS), key="live_models", disabled=busy)
    steps = c3.select_slider("Steps per run", LIVE_STEPS, value=100, key="live_steps", disabled=busy,
                             help="A fixed number of steps and no validation: a live point is a quick look, not a "
                                  "converged run like the shipped ones.")
    runs = [(m, n, steps) for n in sorted(sizes) for m in picked]
    b1, b2, b3 = st.columns([1, 1, 3])
    if b1.button("Train now", type="primary", disabled=busy or not runs, key="live_train"):
        live["queue"] = runs
        st.session_state[LIVE_OPEN] = True
        busy = True
    if busy and b2.button("Cancel", key="live_cancel"):
        live["queue"] = []
        st.rerun()
    if live["rows"] and not busy and b2.button("Clear live points", key="live_clear"):
        live["rows"] = []
        st.rerun()
    estimate = live_estimate(live["queue"] if busy else runs, _live_rates())
    b3.caption(f"{len(live['queue'] if busy else runs)} run(s), 1 seed, about {_duration(estimate)} here "
               "(from the times measured on this server). Points appear on the chart as each run finishes.")
    if not busy:
        return
    slot = _live_slot()
    if not slot.acquire(blocking=False):
        waiting = st.empty()
        waited = 0
        while not slot.acquire(timeout=1.0):
            waited += 1
            # writing to the page is also where Streamlit interrupts a script, so Cancel works while waiting
            waiting.warning(f"Another session is training right now; this one starts when it is done ({waited} s).")
        waiting.empty()
    try:
        _train_next(live)
    finally:
        slot.release()
    st.rerun()  # draw the new point; the rerun trains the next queued run


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def _train_next(live: dict) -> None:
    model, n, steps = live["queue"][0]
    done = len(live["rows"])
    label = f"Training {model} on N = {n:,} ({len(live['queue'])} run(s) left): "
    bar = st.progress(0.0, text=label + "rendering the images…")
    last = [0.0]

    def progress(step, total_steps, loss):
        now = time.perf_counter()
        if now - last[0] > 0.25 or step == total_steps:  # ~4 updates a second is smooth and cheap
            last[0] = now
            bar.progress(step / total_steps, text=f"{label}step {step}/{total_steps}, training loss {loss:.2f}")

    test = _live_test_set()
    row = hu.live_run(model, n, steps, test=test, progress=progress)
    rates = _live_rates()
    rates["render"] = row["render_seconds"] / (math.ceil(n / hu.CHUNK) * hu.CHUNK)
    rates["step"][model] = row["seconds"] / max(1, row["steps"])
    rates["eval"][model] = row["eval_seconds"] / (len(test[0]) + min(n, hu.TRAIN_ACCURACY_IMAGES))
    if len(live["rows"]) == done and live["queue"][:1] == [(model, n, steps)]:  # not cancelled meanwhile
        live["rows"].append(row)
        live["queue"].pop(0)
