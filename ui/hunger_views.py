"""The data-hunger chart and the "run a small experiment now" control (the numbers come from core.experiments)."""
from __future__ import annotations

import threading
import time

import altair as alt
import pandas as pd
import streamlit as st
import torch

from core import experiments as ex

LIVE = "live_hunger"  # session state: {"rows": finished live runs, "queue": runs still to do}
LIVE_STEPS = sorted({25, 100, 300, ex.HUNGER_STEPS})
SERIES_COLOURS = {"cnn": "#1f77b4", "vit": "#d62728", ex.series_name("vit", ex.AUGMENT_PX): "#ff7f0e"}


def chart(shipped: pd.DataFrame | None, live_rows: list[dict], crossings: list[float]) -> alt.LayerChart:
    """Mean accuracy against N on a log axis with ±1 std error bars over seeds, live points as hollow diamonds
    and dashed rules at the CNN/ViT crossovers."""
    frames = []
    if shipped is not None:
        frames.append(shipped.assign(series=[ex.series_name(m, a) for m, a in zip(shipped.model, shipped.augment_px)],
                                     source="shipped"))
    if live_rows:
        live = pd.DataFrame(live_rows)
        frames.append(live.assign(series=[ex.series_name(m, a) for m, a in zip(live.model, live.augment_px)],
                                  source=live["steps"].map(lambda s: f"live, {s} steps")))
    data = pd.concat(frames, ignore_index=True)
    sizes = sorted(data["train_size"].unique().tolist())
    x = alt.X("train_size:Q", scale=alt.Scale(type="log"), axis=alt.Axis(values=sizes, format=",d"),
              title="training images N (log scale)")
    colour = alt.Color("series:N", title=None, scale=alt.Scale(domain=list(SERIES_COLOURS),
                                                                range=list(SERIES_COLOURS.values())))
    y_title = "held-out accuracy"
    base = alt.Chart(data[data.source == "shipped"])
    layers = [
        base.mark_errorbar(extent="stdev", ticks=True).encode(x=x, y=alt.Y("accuracy:Q", title=y_title),
                                                               color=colour),
        base.mark_line(point=True).encode(
            x=x, y=alt.Y("mean(accuracy):Q", title=y_title, scale=alt.Scale(domain=[0, 1])), color=colour,
            tooltip=["series:N", alt.Tooltip("train_size:Q", format=",d", title="N"),
                     alt.Tooltip("mean(accuracy):Q", format=".1%", title="mean accuracy"),
                     alt.Tooltip("stdev(accuracy):Q", format=".1%", title="std over seeds"),
                     alt.Tooltip("count():Q", title="seeds")]),
    ]
    if live_rows:
        layers.append(alt.Chart(data[data.source != "shipped"]).mark_point(
            shape="diamond", filled=False, size=140, strokeWidth=2).encode(
            x=x, y="accuracy:Q", color=colour,
            tooltip=["series:N", "source:N", alt.Tooltip("train_size:Q", format=",d", title="N"),
                     alt.Tooltip("accuracy:Q", format=".1%"), alt.Tooltip("seconds:Q", title="seconds")]))
    if crossings:
        cross = pd.DataFrame({"train_size": crossings, "label": [f"crossover N ≈ {c:,.0f}" for c in crossings]})
        rule = alt.Chart(cross).mark_rule(strokeDash=[4, 4], color="#666").encode(x=x)
        text = alt.Chart(cross).mark_text(align="left", dx=4, y=8, color="#444").encode(x=x, text="label:N")
        layers += [rule, text]
    return alt.layer(*layers).properties(height=380)


@st.cache_resource
def _live_slot() -> threading.BoundedSemaphore:
    # one live training run at a time on the whole server: forty students pressing "Train" at once would
    # otherwise starve every other session of CPU
    return threading.BoundedSemaphore(1)


@st.cache_resource(show_spinner="Rendering the held-out test images…")
def _live_test_set():
    images, labels, centres = ex.hunger_test_set()
    return (images * 255).round().to(torch.uint8), labels, centres  # a quarter of the memory, same images


def seconds_per_step(shipped: pd.DataFrame | None) -> dict[str, float]:
    """Measured training seconds per step of each model in the shipped runs (a rough live-time estimate)."""
    if shipped is None:
        return {"cnn": 0.2, "vit": 0.3}
    plain = shipped[shipped.augment_px == 0]
    return (plain.groupby("model")["seconds"].sum() / plain.groupby("model")["steps"].sum()).to_dict()


def live_controls(shipped: pd.DataFrame | None) -> None:
    """Pick a few N, models and a step budget; train them one after another with a progress bar and Cancel.

    Each finished run is stored in session state and the page reruns, so its point appears on the chart above
    while the next run trains. Cancel (or any other widget) interrupts the running script at its next progress
    update; Cancel also empties the queue.
    """
    live = st.session_state.setdefault(LIVE, {"rows": [], "queue": []})
    busy = bool(live["queue"])
    c1, c2, c3 = st.columns([2, 2, 2])
    sizes = c1.multiselect("Training images N", ex.SIZES, default=[250, 2_000], key="live_sizes", disabled=busy,
                           format_func=lambda n: f"{n:,}")
    picked = c2.multiselect("Models", list(ex.ARCHS), default=list(ex.ARCHS), key="live_models", disabled=busy)
    steps = c3.select_slider("Steps per run", LIVE_STEPS, value=300, key="live_steps", disabled=busy,
                             help=f"The shipped curves used {ex.HUNGER_STEPS} steps; fewer steps finish sooner "
                                  "but land lower.")
    per_step = seconds_per_step(shipped)
    estimate = sum(per_step.get(m, 0.3) * steps for m in picked) * len(sizes)
    b1, b2, b3 = st.columns([1, 1, 3])
    if b1.button("Train now", type="primary", disabled=busy or not sizes or not picked, key="live_train"):
        live["queue"] = [(m, n, steps) for n in sorted(sizes) for m in picked]
        busy = True
    if busy and b2.button("Cancel", key="live_cancel"):
        live["queue"] = []
        st.rerun()
    if live["rows"] and not busy and b2.button("Clear live points", key="live_clear"):
        live["rows"] = []
        st.rerun()
    b3.caption(f"{len(sizes) * len(picked)} run(s), 1 seed, about {estimate / 60:.1f} min on one core here. "
               "Points appear on the chart as each run finishes.")
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


def _train_next(live: dict) -> None:
    model, n, steps = live["queue"][0]
    done = len(live["rows"])
    label = f"Training {model} on N = {n:,} ({len(live['queue'])} run(s) left): "
    bar = st.progress(0.0, text=label)
    last = [0.0]

    def progress(step, total_steps, loss):
        now = time.perf_counter()
        if now - last[0] > 0.25 or step == total_steps:  # ~4 updates a second is smooth and cheap
            last[0] = now
            bar.progress(step / total_steps, text=f"{label}step {step}/{total_steps}, training loss {loss:.2f}")

    row = ex.data_hunger_run(model, n, seed=0, steps=steps, test=_live_test_set(), progress=progress)
    if len(live["rows"]) == done and live["queue"][:1] == [(model, n, steps)]:  # not cancelled meanwhile
        live["rows"].append(row)
        live["queue"].pop(0)
