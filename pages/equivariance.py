"""Convolution equivariance: see f(T x) = T f(x), what breaks it and what restores it."""
import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
import torch

from core import equivariance as eq
from core import experiments as ex
from core import pictures as pic
from core.models import ModelError
from core.transforms import MODES, KernelError, as_kernel
from ui import bookmarks, png, require_entry
from ui import compute
from ui.images import image_picker
from ui.models import cached_model

require_entry()

KERNELS = eq.PRESETS + ("custom",)
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


def model_loads(name: str) -> bool:
    try:
        cached_model(MODELS[name])
        return True
    except ModelError as e:  # missing weights: skip this chain, keep the page
        st.info(f"Skipping **{name}**: the model cannot be loaded here ({e}).")
        return False


def show_signed(col, values: torch.Tensor, vmax: float, title: str, formula: str):
    col.image(png(pic.enlarge(pic.diverging_rgb(values.mean(0), vmax))), width="stretch", output_format="PNG")
    col.markdown(f"**{title}**  \n{formula}")


st.title("Convolution equivariance")
st.markdown("Shift an image and convolve it, or convolve it and shift the result: for a convolution both "
            "paths give the same picture, **f(T x) = T f(x)** — except where the border gets in the way.")

# --- input, kernel, shift ------------------------------------------------------------------------
left, right = st.columns([1, 1], gap="large")
with left:
    img = image_picker("eq-image", default="white square")
    if img is None:
        st.stop()
    h, w = img.shape[-2:]
    limit = max(h, w) + 20  # shifts larger than the image are allowed: in zeros mode everything leaves
    bookmarks.seed("eq_dx", "dx", int, 20, lambda v: abs(v) <= limit)
    bookmarks.seed("eq_dy", "dy", int, 20, lambda v: abs(v) <= limit)
    bookmarks.seed("eq_mode", "mode", str, "zeros", lambda v: v in MODES)
    for k in ("eq_dx", "eq_dy"):  # a new image changes the range: keep the shift, clamped, not reset
        st.session_state[k] = int(np.clip(st.session_state[k], -limit, limit))
    dx = st.slider("Shift right dx (px, negative: left)", -limit, limit, key="eq_dx")
    dy = st.slider("Shift down dy (px, negative: up)", -limit, limit, key="eq_dy")
    mode = st.radio("Border", MODES, key="eq_mode", horizontal=True, format_func=lambda m: {
        "zeros": "zeros (content leaves the frame)", "circular": "circular (content wraps around)"}[m])
with right:
    bookmarks.seed("eq_kernel", "kernel", str, "vertical edge", lambda v: v in KERNELS)
    bookmarks.seed("eq_ksize", "size", int, 3, lambda v: v in (1, 3, 5, 7))
    bookmarks.seed("eq_seed", "seed", int, 0, lambda v: 0 <= v <= 9999)
    preset = st.selectbox("Kernel", KERNELS, key="eq_kernel")
    size, seed = st.session_state.eq_ksize, st.session_state.eq_seed
    if preset == "custom" and size == 1:
        st.session_state.eq_ksize = size = 3  # a 1x1 table has nothing to edit
    if preset in eq.SIZED_PRESETS or preset == "custom":
        size = st.select_slider("Kernel size", (1, 3, 5, 7) if preset != "custom" else (3, 5, 7), key="eq_ksize")
    if preset == "random":
        seed = st.number_input("Seed", 0, 9999, key="eq_seed")
    if preset == "custom":
        start = np.zeros((size, size))
        start[size // 2 - 1:size // 2 + 2, size // 2 - 1:size // 2 + 2] = eq.kernel_preset("vertical edge")
        table = st.data_editor(pd.DataFrame(start, columns=[f"c{i}" for i in range(size)]), num_rows="fixed",
                               hide_index=True, key=f"eq_custom_{size}")
        raw = table.to_numpy()
    else:
        raw = eq.kernel_preset(preset, size, seed)
        st.dataframe(pd.DataFrame(raw).style.format("{:.3g}"), hide_index=True)
st.query_params.update(kernel=preset, dx=str(dx), dy=str(dy), mode=mode, size=str(size), seed=str(seed))

try:
    kernel = np.asarray(as_kernel(raw), dtype=np.float64)
except KernelError as e:
    st.error(f"Cannot use this kernel: {e}.")
    st.stop()
image = img.numpy()
c = compare(image, kernel, dx, dy, mode)

# --- four panels, the difference and the verdict ------------------------------------------------
st.subheader("Shift then convolve (A) against convolve then shift (B)")
vmax = max(float(t.mean(0).abs().max()) for t in (c.conv, c.shift_then_conv, c.conv_then_shift)) or 1.0
cols = st.columns(4)
cols[0].image(png(pic.enlarge(pic.to_uint8(image.transpose(1, 2, 0)))), width="stretch", output_format="PNG")
cols[0].markdown(f"**Original** x  \n{w}×{h} px")
show_signed(cols[1], c.conv, vmax, "Convolution", "f(x)")
show_signed(cols[2], c.conv_then_shift, vmax, "Convolve, then shift (B)", f"T f(x), T = shift ({dx}, {dy})")
show_signed(cols[3], c.shift_then_conv, vmax, "Shift, then convolve (A)", "f(T x)")
st.caption(f"Convolution outputs are signed: colour scale blue = −{vmax:.3g}, white = 0, red = +{vmax:.3g} "
           "(shared by the three panels). Shown is the mean over R, G, B: the kernel is applied to each channel.")

diff_col, text_col = st.columns([1, 3])
absdiff = c.diff.abs().amax(0)
dmax = float(absdiff.max())
diff_col.image(png(pic.enlarge(pic.sequential_rgb(absdiff, dmax))), width="stretch", output_format="PNG")
diff_col.caption("|A − B|: identical, no difference anywhere" if dmax == 0 else
                 f"|A − B| (max over channels): white = 0, dark red = {dmax:.3g}")
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

# --- what breaks it ------------------------------------------------------------------------------
st.subheader("What breaks it: strides, pooling and patches")
options = list(eq.basic_chains(kernel)) + list(MODELS)
picked = st.multiselect("Chains to compare", options, default=options[:5], key="eq_chains",
                        help="Add the whole embedded CNN and ViT to see a trained network's feature and token maps.")
picked = tuple(n for n in picked if n not in MODELS or model_loads(n))
if not picked:
    st.info("Pick at least one chain to draw the chart.")
    st.stop()
df = curves(image, kernel, picked)
df["reference"] = np.where(df["whole_multiple"], "whole cells (exact)", "fraction of a cell (Fourier-interpolated)")
if df["error"].isna().all():
    st.info("Every feature map is zero (an all-zero kernel?): there is no error to measure.")
else:
    base = alt.Chart(df).encode(
        x=alt.X("shift_px:Q", title="horizontal input shift s (px)"),
        y=alt.Y("error:Q", title="relative equivariance error", axis=alt.Axis(titleLimit=0)),
        color=alt.Color("chain:N", title="chain", legend=alt.Legend(orient="bottom", columns=2, labelLimit=400)),
        tooltip=["chain", "shift_px", "reference_shift_cells", alt.Tooltip("error:Q", format=".4f")])
    points = base.mark_point(size=60, filled=True).encode(shape=alt.Shape("reference:N", title="reference"))
    st.altair_chart((base.mark_line() + points).properties(height=360), width="stretch")
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
odd = df[~df["whole_multiple"]].groupby("chain")["error"].mean()
named = [n for n in ("conv + stride 2", "conv + max-pool 2", "conv + blur-pool 2 (anti-aliased)") if n in odd]
if len(named) >= 2 and not odd[named].isna().any():
    best = odd[named].idxmin()
    st.info("On this image and kernel, the mean error at shifts that are not a multiple of 2 px is " + ", ".join(
        f"**{odd[n]:.3f}** for {n}" for n in named) + f": {best} aliases least"
        + (" — blurring before subsampling (Zhang 2019) removes most of the aliasing." if "blur" in best else
           ". Blurring (Zhang 2019) only helps where the image has detail finer than the stride; here it does not."))
stability = ex.load_stability()
if stability is not None:
    st.caption("**The trained networks.** " + ex.stability_reading(stability)
               + " The hand-built chains above show the mechanism; this is what it adds up to in a trained model.")
