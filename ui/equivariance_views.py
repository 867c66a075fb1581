"""The equivariance page's sections: the four panels with their verdict, and the error-against-shift chart of the
strided, pooled and patch chains (the numbers come from core.equivariance)."""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
import torch

from core import equivariance as eq
from core import experiments as ex
from core import pictures as pic
from core.models import ModelError
from core.transforms import MODES, as_kernel
from ui import bookmarks, compute, png, present
from ui.i18n import say
from ui.models import cached_model, colours

KERNELS = eq.PRESETS + ("custom",)
DEFAULTS = {"image": "white square", "dx": 20, "dy": 20, "mode": "zeros", "kernel": "vertical edge", "size": 3,
            "seed": 0}  # the classic demo: a square, a vertical-edge kernel, a shift that keeps it in the frame
MODELS = {"whole CNN feature map (embedded cnn)": "cnn", "whole ViT token map (embedded vit)": "vit"}


@st.cache_data(max_entries=8, ttl="15m", show_spinner=False)  # ~12 MB an entry at 512 px
def compare(img: np.ndarray, kernel: np.ndarray, dx: int, dy: int, mode: str) -> eq.Comparison:
    return compute.run(eq.compare, torch.from_numpy(img), kernel, dx, dy, mode)


@st.cache_data(max_entries=16, show_spinner="Measuring the error at every shift…")
def curves(img: np.ndarray, kernel: np.ndarray, names: tuple[str, ...]) -> pd.DataFrame:
    chains = eq.basic_chains(kernel)
    chosen = [eq.model_chain(cached_model(MODELS[n])) if n in MODELS else chains[n] for n in names]
    x = torch.from_numpy(img)
    return pd.DataFrame(compute.run(lambda: [row for chain in chosen for row in eq.error_curve(chain, x)]))


def kernel_array(raw) -> np.ndarray:
    """A preset's or the user's table as the float64 kernel the cached computations are keyed by."""
    return np.asarray(as_kernel(raw), dtype=np.float64)


def default_chains(kernel: np.ndarray) -> list[str]:
    return list(eq.basic_chains(kernel))[:5]


def warm_up() -> None:
    """The default view's results, computed before the first visitor asks (ui/warmup.py)."""
    from ui.images import sample

    d = DEFAULTS
    img = sample(d["image"]).numpy()
    kernel = kernel_array(eq.kernel_preset(d["kernel"], d["size"], d["seed"]))
    compare(img, kernel, d["dx"], d["dy"], d["mode"])
    curves(img, kernel, tuple(default_chains(kernel)))


def model_loads(name: str) -> bool:
    try:
        cached_model(MODELS[name])
        return True
    except ModelError as e:  # missing weights: skip this chain, keep the page
        st.info(f"Skipping **{name}**: the model cannot be loaded here ({e}).")
        return False


def _show_map(col, values: torch.Tensor, vmax: float, signed: bool, title: str, formula: str):
    rgb = pic.diverging_rgb(values.mean(0), vmax) if signed else pic.grey_rgb(values.mean(0), vmax)
    col.image(png(pic.enlarge(rgb)), width="stretch", output_format="PNG")
    col.markdown(f"**{title}**  \n{formula}")


@st.fragment  # the shift and the border change only the panels: rerun them alone
def shift_section(image: np.ndarray, kernel: np.ndarray) -> None:
    """The shift controls (bookmarkable) and the panels they drive."""
    h, w = image.shape[-2:]
    limit = max(h, w) + 20  # shifts larger than the image are allowed: in zeros mode everything leaves
    d = DEFAULTS
    bookmarks.seed("eq_dx", "dx", int, d["dx"], lambda v: abs(v) <= limit)
    bookmarks.seed("eq_dy", "dy", int, d["dy"], lambda v: abs(v) <= limit)
    bookmarks.seed("eq_mode", "mode", str, d["mode"], lambda v: v in MODES)
    for k in ("eq_dx", "eq_dy"):  # a new image changes the range: keep the shift, clamped, not reset
        st.session_state[k] = int(np.clip(st.session_state[k], -limit, limit))
    c1, c2, c3 = st.columns([2, 2, 3])
    dx = c1.slider("Shift right dx (px, negative: left)", -limit, limit, key="eq_dx")
    dy = c2.slider("Shift down dy (px, negative: up)", -limit, limit, key="eq_dy")
    mode = c3.radio("Border", MODES, key="eq_mode", horizontal=True, format_func=lambda m: {
        "zeros": "zeros (content leaves the frame)", "circular": "circular (content wraps around)"}[m])
    st.query_params.update(dx=str(dx), dy=str(dy), mode=mode)
    panels_section(image, kernel, dx, dy, mode)


def panels_section(image: np.ndarray, kernel: np.ndarray, dx: int, dy: int, mode: str) -> None:
    """Original, f(x), T f(x) and f(T x) side by side, then |A - B| and the verdict."""
    h, w = image.shape[-2:]
    c = compare(image, kernel, dx, dy, mode)
    st.subheader("Shift then convolve (A) against convolve then shift (B)")
    shown = [t.mean(0) for t in (c.conv, c.shift_then_conv, c.conv_then_shift)]
    vmax = max(float(t.abs().max()) for t in shown) or 1.0
    signed = min(float(t.min()) for t in shown) < 0  # a blur (no negative weight) gives no negative output
    cols = st.columns(4)
    cols[0].image(png(pic.enlarge(pic.to_uint8(image.transpose(1, 2, 0)))), width="stretch", output_format="PNG")
    cols[0].markdown(f"**Original** x  \n{w}×{h} px")
    _show_map(cols[1], c.conv, vmax, signed, "Convolution", "f(x)")
    _show_map(cols[2], c.conv_then_shift, vmax, signed, "Convolve, then shift (B)", f"T f(x), T = shift ({dx}, {dy})")
    _show_map(cols[3], c.shift_then_conv, vmax, signed, "Shift, then convolve (A)", "f(T x)")
    scale = (f"signed: blue = −{vmax:.3g}, white = 0, red = +{vmax:.3g}" if signed else
             f"all ≥ 0 here (no negative output), so drawn like a photo: black = 0, white = {vmax:.3g}")
    st.caption(f"Convolution outputs, {scale} (one scale for the three panels). Shown is the mean over R, G, B: the "
               "kernel is applied to each channel.")

    diff_col, text_col = st.columns([1, 3])
    absdiff = c.diff.abs().amax(0)
    dmax = float(absdiff.max())
    if c.equivariant:  # a map stretched to float rounding (1e-7) would paint noise as if it were a difference
        diff_col.image(png(pic.enlarge(pic.sequential_rgb(np.zeros(absdiff.shape), 1.0))), width="stretch",
                       output_format="PNG")
        diff_col.caption("|A − B|: identical" + (f" (up to float rounding, {dmax:.0e} at most)" if dmax > 0 else ""))
    else:
        diff_col.image(png(pic.enlarge(pic.sequential_rgb(absdiff, dmax))), width="stretch", output_format="PNG")
        diff_col.caption(f"|A − B| (max over channels): white = 0, dark red = {dmax:.3g}")
    with text_col:
        message = eq.verdict(c, mode)
        (st.success if c.equivariant else st.warning)(message)
        m1, m2 = st.columns(2)
        m1.metric("Equivariant map: max |A − B|", "0" if c.equivariant else f"{c.max_err:.3g}")
        change = c.gap_change
        m2.metric("Pooled (invariant): change", "—" if np.isnan(change) else f"{change:.2%}",
                  help="Global average pool: mean over all pixels of ReLU(f(x)) per channel, before and after the shift: largest change "
                       "relative to its size. Circular borders: exactly 0; zeros: only what crosses the border counts.")
        st.caption("Deep-learning libraries' \"convolution\" is really cross-correlation (the kernel is not flipped). "
                   "That only changes which filter you get, not the equivariance: both slide one set of weights over "
                   "every position. This page uses the true, flipped convolution: the same as "
                   "`scipy.ndimage.convolve` with `mode=\"constant\"` (zeros) or `mode=\"wrap\"` (circular); scipy's "
                   "default, `reflect`, differs once the object reaches the border.")


# One distinct hue per chain, told apart on a projector (no two blues, no red next to pink), and none of them an
# embedded model's colour: the whole networks keep their models' colours, on a chart of their own.
CHAIN_COLOURS = {"conv": "#444444", "conv + stride 2": "#8c564b", "conv + max-pool 2": "#e377c2",
                 "conv + blur-pool 2 (anti-aliased)": "#17becf", "ViT patch embedding": "#bcbd22"}


def _is_whole_network(chain: str) -> bool:
    return chain.startswith("whole ")  # core.equivariance.model_chain's names: "whole CNN (cnn) feature map", ...


def _chain_colour(chain: str) -> str:
    for name in MODELS.values():
        if _is_whole_network(chain) and f"({name})" in chain:
            return colours([name])[name]
    return next((c for name, c in CHAIN_COLOURS.items() if chain == name or chain.startswith(name + " (")),
                "#7f7f7f")


def _error_chart(df: pd.DataFrame, title: str) -> alt.LayerChart:
    chains = list(dict.fromkeys(df["chain"]))
    colour = alt.Color("chain:N", title=title, scale=alt.Scale(domain=chains, range=[_chain_colour(c) for c in chains]),
                       legend=alt.Legend(orient="right", labelLimit=320, titleFontSize=13, labelFontSize=13))
    base = alt.Chart(df).encode(
        x=alt.X("shift_px:Q", title="horizontal input shift s (px)", axis=alt.Axis(titleFontSize=13)),
        y=alt.Y("error:Q", title="relative equivariance error", axis=alt.Axis(titleLimit=0, titleFontSize=13)),
        color=colour, tooltip=["chain", "shift_px", "reference_shift_cells", alt.Tooltip("error:Q", format=".4f")])
    points = base.mark_point(size=70, filled=True).encode(
        shape=alt.Shape("reference:N", title="reference", legend=alt.Legend(orient="right", labelLimit=320)))
    return (base.mark_line(strokeWidth=2.5) + points).properties(height=340)


@st.fragment  # picking chains changes only this chart
def chains_section(image: np.ndarray, kernel: np.ndarray) -> None:
    """Relative equivariance error against the input shift for the chains the user picks."""
    st.subheader("What breaks it: strides, pooling and patches")
    options = list(eq.basic_chains(kernel)) + list(MODELS)
    picked = st.multiselect("Chains to compare", options, default=default_chains(kernel), key="eq_chains",
                            help="Add the whole embedded CNN and ViT to see a trained network's feature and token maps.")
    picked = tuple(n for n in picked if n not in MODELS or model_loads(n))
    if not picked:
        st.info("Pick at least one chain to draw the chart.")
        return
    df = curves(image, kernel, picked)
    df["reference"] = np.where(df["whole_multiple"], "whole cells (exact)", "fraction of a cell (Fourier-interpolated)")
    if df["error"].isna().all():
        st.info("Every feature map is zero (an all-zero kernel?): there is no error to measure.")
    else:
        whole_network = df["chain"].map(_is_whole_network)
        hand, whole = df[~whole_network], df[whole_network]
        # a chart each, one above the other, so each has its own x-axis (a whole CNN, stride 32, is measured up to
        # 64 px, the hand-built chains to ~16) and the full width (side by side, the second was cut off)
        for part, title in ((hand, "hand-built chains"), (whole, "whole networks")):
            if not part.empty:
                present.chart(_error_chart(part, title), width="stretch")
    st.download_button("Download the chart data (CSV)", df.to_csv(index=False), "equivariance_error.csv", "text/csv")
    st.markdown(
        "**How this is measured.** error(s) = ‖f(T_s x) − T′ f(x)‖ / ‖f(x)‖, where T_s shifts the input s px to the "
        "right and T′ shifts the output by s / stride cells. When s is not a multiple of the stride, that is a fraction "
        "of a cell: the output is shifted by Fourier interpolation, which is what a chain that only subsampled a smooth "
        "map would give. So what the chart shows at those shifts is **aliasing**, not the half-cell misregistration "
        "that any comparison with a whole-cell shift would add. All shifts here are **circular** (and all padding "
        "inside the hand-built chains too), so the border is not what breaks it. The norms are taken on an **interior "
        "crop** that leaves out a border band of 1/8 of the side. The image is resized to 128×128 px for this chart "
        "(64×64 for the ViT, its input size). A plain conv stays at 0; every strided chain is exact at multiples of its "
        "stride; a ViT's patch embedding at multiples of the patch size; a whole network adds padding and position "
        "embeddings on top.")
    reading = eq.odd_shift_reading(df)
    if reading:
        st.info(reading)
    stability = ex.load_stability()
    if stability is not None:
        st.caption("**The trained networks.** " + say(ex.stability_reading(stability))
                   + " The hand-built chains above show the mechanism; this is what it adds up to in a trained model.")
