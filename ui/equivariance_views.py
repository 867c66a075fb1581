"""The equivariance page's sections: the four panels with their verdict, and the error-against-shift chart of the
strided, pooled and patch chains (the numbers come from core.equivariance)."""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st
import torch

from core import equivariance as eq
from core.experiments import positions
from core import pictures as pic
from core.models import ModelError
from core.transforms import MODES, as_kernel
from ui import bookmarks, charts, compute, present
from ui.i18n import current, name_of, t, worded, words
from ui.images import sample
from ui.models import cached_model, colours

KERNELS = eq.PRESETS + ("custom",)
DEFAULTS = {"image": "white square", "dx": 20, "dy": 20, "mode": "zeros", "kernel": "vertical edge", "size": 3,
            "seed": 0}  # the classic demo: a square, a vertical-edge kernel, a shift that keeps it in the frame
# the chain picker's options for the whole embedded networks (identifiers, shown as equivariance.whole_option.<model>)
MODELS = {"whole CNN feature map (embedded cnn)": "cnn", "whole ViT token map (embedded vit)": "vit"}


@st.cache_data(max_entries=8, ttl="15m", show_spinner=False)  # ~12 MB an entry at 512 px
def compare(img: np.ndarray, kernel: np.ndarray, dx: int, dy: int, mode: str) -> eq.Comparison:
    return compute.run(eq.compare, torch.from_numpy(img), kernel, dx, dy, mode)


def kernel_key(kernel: np.ndarray) -> str:
    return charts.digest(kernel)


def basic_chains(kernel: np.ndarray, k_key: str) -> dict[str, eq.Chain]:
    """eq.basic_chains(kernel), made once per kernel (read, never changed)."""
    return charts.once("equivariance.basic_chains", (k_key,), lambda: eq.basic_chains(kernel))


def _chains(kernel: np.ndarray, names) -> list[eq.Chain]:
    chains = eq.basic_chains(kernel)
    return [eq.model_chain(cached_model(MODELS[n])) if n in MODELS else chains[n] for n in names]


@st.cache_data(max_entries=16, show_spinner=False)  # the spinner's text is the session's language: see measure()
def curves(img: np.ndarray, kernel: np.ndarray, names: tuple[str, ...]) -> pd.DataFrame:
    chosen = _chains(kernel, names)
    x = torch.from_numpy(img)
    return pd.DataFrame(compute.run(lambda: [row for chain in chosen for row in eq.error_curve(chain, x)]))


def measure(img: np.ndarray, kernel: np.ndarray, names: tuple[str, ...]) -> pd.DataFrame:
    with st.spinner(t("equivariance.chains.measuring")):
        return curves(img, kernel, names)


def chain_labels(kernel: np.ndarray, names) -> dict[str, str]:
    """Each picked chain's row name (an identifier) -> its name in the session's language."""
    return {c.name: words(c.label) if c.label else c.name for c in _chains(kernel, names)}


def option_label(chains: dict[str, eq.Chain], name: str) -> str:
    """What the chain picker shows for an option: a hand-built chain's label or a whole network's."""
    if name in MODELS:
        return t(f"equivariance.whole_option.{MODELS[name]}")
    chain = chains.get(name)
    return words(chain.label) if chain is not None and chain.label else name


def kernel_array(raw) -> np.ndarray:
    """A preset's or the user's table as the float64 kernel the cached computations are keyed by."""
    return np.asarray(as_kernel(raw), dtype=np.float64)


def kernel_controls() -> np.ndarray:
    """The kernel picker (bookmarkable): a preset, its size and seed where it has them, or a table to edit; shown
    under the picker. Returns the table as typed or as the preset gives it."""
    d = DEFAULTS
    bookmarks.seed("eq_kernel", "kernel", str, d["kernel"], lambda v: v in KERNELS)
    bookmarks.seed("eq_ksize", "size", int, d["size"], lambda v: v in (1, 3, 5, 7))
    bookmarks.seed("eq_seed", "seed", int, d["seed"], lambda v: 0 <= v <= 9999)
    preset = st.selectbox(t("equivariance.kernel"), KERNELS, key="eq_kernel",
                          format_func=worded(KERNELS, lambda k: name_of("equivariance.preset", k)))
    size, seed = st.session_state.eq_ksize, st.session_state.eq_seed
    if preset == "custom" and size == 1:
        st.session_state.eq_ksize = size = 3  # a 1x1 table has nothing to edit
    if preset in eq.SIZED_PRESETS or preset == "custom":
        size = st.select_slider(t("equivariance.kernel_size"), (1, 3, 5, 7) if preset != "custom" else (3, 5, 7),
                                key="eq_ksize")
    if preset == "random":
        seed = st.number_input(t("equivariance.seed"), 0, 9999, key="eq_seed")
    if preset == "custom":
        table = st.data_editor(pd.DataFrame(eq.custom_start(size), columns=[f"c{i}" for i in range(size)]),
                               num_rows="fixed", hide_index=True, key=f"eq_custom_{size}")
        raw = table.to_numpy()
    else:
        raw = eq.kernel_preset(preset, size, seed)
        # a plain table: its numbers wrap to the column, as wide as a phone allows, and scale with projector mode
        charts.table("equivariance.kernel", (preset, size, seed), lambda: pd.DataFrame(raw).map(lambda v: f"{v:.3g}"),
                     hide_index=True, hide_header=True)
    st.query_params.update(kernel=preset, size=str(size), seed=str(seed))
    return raw


def default_chains(kernel: np.ndarray) -> list[str]:
    return list(eq.basic_chains(kernel))[:5]


def warm_up() -> None:
    """The default view's results, computed before the first visitor asks (ui/warmup.py)."""
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
        st.info(t("equivariance.chains.skipping", name=option_label({}, name), error=words(e)))
        return False


def _show_map(col, name: str, inputs: tuple, values, vmax: float, signed: bool, title: str, formula: str):
    """One panel's map (a PNG made once per `inputs`: ui.charts; `values()` gives the map) and its title and formula
    under it."""
    def rgb():
        m = values().mean(0)
        return pic.enlarge(pic.diverging_rgb(m, vmax) if signed else pic.grey_rgb(m, vmax))

    with col:
        charts.image(name, inputs, rgb, width="stretch")
    col.markdown(f"**{title}**  \n{formula}")


@st.fragment  # the shift and the border change only the panels: rerun them alone
def shift_section(image: np.ndarray, kernel: np.ndarray, keys: tuple[str, str]) -> None:
    """The shift controls (bookmarkable) and the panels they drive; `keys`: the image's and the kernel's names in
    ui.charts' inputs (ui.images.picked_key, kernel_key)."""
    h, w = image.shape[-2:]
    limit = max(h, w) + 20  # shifts larger than the image are allowed: in zeros mode everything leaves
    d = DEFAULTS
    bookmarks.seed("eq_dx", "dx", int, d["dx"], lambda v: abs(v) <= limit)
    bookmarks.seed("eq_dy", "dy", int, d["dy"], lambda v: abs(v) <= limit)
    bookmarks.seed("eq_mode", "mode", str, d["mode"], lambda v: v in MODES)
    for k in ("eq_dx", "eq_dy"):  # a new image changes the range: keep the shift, clamped, not reset
        st.session_state[k] = int(np.clip(st.session_state[k], -limit, limit))
    c1, c2, c3 = st.columns([2, 2, 3])
    dx = c1.slider(t("equivariance.dx"), -limit, limit, key="eq_dx")
    dy = c2.slider(t("equivariance.dy"), -limit, limit, key="eq_dy")
    mode = c3.radio(t("equivariance.border"), MODES, key="eq_mode", horizontal=True,
                    format_func=worded(MODES, lambda m: t(f"equivariance.mode.{m}")))
    st.query_params.update(dx=str(dx), dy=str(dy), mode=mode)
    panels_section(image, kernel, keys, dx, dy, mode)


PANELS = "eq_panels"  # the container of the four panels
DIFFERENCE = "eq_difference"  # the row of |A - B| and the verdict
# a phone shows the four panels two a row (Streamlit would stack them, one 358-px panel a screen): x beside f(x), A
# beside B; and |A - B|, stacked above the verdict, as wide as one of them
PANELS_CSS = f"""<style>
{present.PHONE} {{ .st-key-{PANELS} [data-testid="stColumn"] {{
  min-width: calc(50% - 0.5rem) !important; flex: 1 1 calc(50% - 0.5rem) !important; }}
  .st-key-{DIFFERENCE} [data-testid="stColumn"]:first-child {{
  min-width: 0 !important; flex: 0 0 calc(50% - 0.5rem) !important; }} }}
</style>"""


def panel_numbers(c: eq.Comparison, mode: str) -> dict:
    """What the panels say about a comparison besides its maps: the three maps' shared colour scale (`vmax`, `signed`),
    the largest |A - B| (`dmax`), whether it is equivariant, the metrics and the verdict (a Message)."""
    shown = [m.mean(0) for m in (c.conv, c.shift_then_conv, c.conv_then_shift)]
    return {"vmax": max(float(m.abs().max()) for m in shown) or 1.0,
            "signed": min(float(m.min()) for m in shown) < 0,  # a blur (no negative weight) gives no negative output
            "dmax": float(c.diff.abs().amax(0).max()), "equivariant": c.equivariant, "max_err": c.max_err,
            "gap_change": c.gap_change, "verdict": eq.verdict(c, mode)}


def difference_rgb(c: eq.Comparison) -> np.ndarray:
    """|A - B| (largest over channels) as a picture scaled to its maximum, or black where the paths are equivariant
    (a map stretched to float rounding, 1e-7, would paint noise as if it were a difference)."""
    absdiff = c.diff.abs().amax(0)
    if c.equivariant:
        return pic.enlarge(pic.sequential_rgb(np.zeros(absdiff.shape), 1.0))
    return pic.enlarge(pic.sequential_rgb(absdiff, float(absdiff.max())))


def panels_section(image: np.ndarray, kernel: np.ndarray, keys: tuple[str, str], dx: int, dy: int,
                   mode: str) -> None:
    """Original, f(x), f(T x) (A) and T f(x) (B) side by side, then |A - B| and the verdict. The comparison (its
    12 MB at 512 px) is read only where something is first made for these inputs (its numbers, a picture): a warm
    run reads the numbers and pictures made from it."""
    h, w = image.shape[-2:]
    inputs = (*keys, dx, dy, mode)  # the three maps share one colour scale: all of these

    def comparison() -> eq.Comparison:
        return compare(image, kernel, dx, dy, mode)

    p = charts.once("equivariance.panels", inputs, lambda: panel_numbers(comparison(), mode))
    vmax, signed = p["vmax"], p["signed"]
    st.subheader(t("equivariance.panels.subheader"))
    st.html(PANELS_CSS)
    cols = st.container(key=PANELS).columns(4)
    with cols[0]:
        charts.image("equivariance.original", (keys[0],),
                     lambda: pic.enlarge(pic.to_uint8(image.transpose(1, 2, 0))), width="stretch")
    cols[0].markdown(t("equivariance.panels.original", width=w, height=h))
    _show_map(cols[1], "equivariance.conv", inputs, lambda: comparison().conv, vmax, signed,
              t("equivariance.panels.conv"), "f(x)")
    # A before B, as the heading names them
    _show_map(cols[2], "equivariance.shift_then_conv", inputs, lambda: comparison().shift_then_conv, vmax, signed,
              t("equivariance.panels.shift_then_conv"), "f(T x)")
    _show_map(cols[3], "equivariance.conv_then_shift", inputs, lambda: comparison().conv_then_shift, vmax, signed,
              t("equivariance.panels.conv_then_shift"), t("equivariance.panels.shift_formula", dx=dx, dy=dy))
    scale = t("equivariance.panels.scale_signed" if signed else "equivariance.panels.scale_photo", vmax=vmax)
    st.caption(t("equivariance.panels.caption", scale=scale))

    diff_col, text_col = st.container(key=DIFFERENCE).columns([1, 3])
    dmax = p["dmax"]
    with diff_col:
        charts.image("equivariance.difference", inputs, lambda: difference_rgb(comparison()), width="stretch")
    if p["equivariant"]:
        diff_col.caption(t("equivariance.panels.identical_rounding", dmax=dmax) if dmax > 0 else
                         t("equivariance.panels.identical"))
    else:
        diff_col.caption(t("equivariance.panels.difference", dmax=dmax))
    with text_col:
        (st.success if p["equivariant"] else st.warning)(words(p["verdict"]))
        m1, m2 = st.columns(2)
        m1.metric(t("equivariance.panels.metric_map"), "0" if p["equivariant"] else f"{p['max_err']:.3g}")
        change = p["gap_change"]
        m2.metric(t("equivariance.panels.metric_pooled"), "—" if np.isnan(change) else f"{change:.2%}",
                  help=t("equivariance.panels.metric_pooled_help"))
        st.caption(t("equivariance.panels.correlation"))


# One distinct hue per chain, told apart on a projector (no two blues, no red next to pink), and none of them an
# embedded model's colour: the whole networks keep their models' colours, on a chart of their own.
CHAIN_COLOURS = {"conv": "#444444", "conv + stride 2": "#8c564b", "conv + max-pool 2": "#e377c2",
                 "conv + blur-pool 2 (anti-aliased)": "#17becf", "ViT patch embedding": "#bcbd22"}


def _is_whole_network(chain: str) -> bool:
    return chain.startswith("whole ")  # core.equivariance.model_chain's names: "whole CNN (cnn) feature map", ...


def chain_colour(chain: str) -> str:
    for name in MODELS.values():
        if _is_whole_network(chain) and f"({name})" in chain:
            return colours([name])[name]
    return next((c for name, c in CHAIN_COLOURS.items() if chain == name or chain.startswith(name + " (")),
                "#7f7f7f")


def _error_chart(df: pd.DataFrame, title: str) -> alt.LayerChart:
    """df: curves() rows with `label` (the chain in the session's language) and `reference` (the shape legend's
    words) added; colours follow the `chain` identifiers, in the order the chains were picked."""
    chains = list(dict.fromkeys(df["chain"]))
    labels = [df.loc[df["chain"] == c, "label"].iloc[0] for c in chains]
    # legends above and below the plot, one entry a row, so that a phone's width is the plot's; type sizes in the
    # chart's config, which projector mode replaces with its own
    colour = alt.Color("label:N", title=title, scale=alt.Scale(domain=labels, range=[chain_colour(c) for c in chains]),
                       legend=alt.Legend(orient="bottom", direction="vertical", labelLimit=0))
    base = alt.Chart(df).encode(
        x=alt.X("shift_px:Q", title=t("equivariance.chains.x_title"), axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y("error:Q", title=t("equivariance.chains.y_title"), axis=alt.Axis(titleLimit=0)),
        color=colour, tooltip=[alt.Tooltip("label:N", title=t("equivariance.chains.tip_chain")),
                               alt.Tooltip("shift_px:Q", title=t("equivariance.chains.tip_shift")),
                               alt.Tooltip("reference_shift_cells:Q", title=t("equivariance.chains.tip_reference")),
                               alt.Tooltip("error:Q", title=t("equivariance.chains.tip_error"), format=".4f")])
    # whole cells square and fractions round in every language (the labels' sort order would differ)
    references = [t("equivariance.chains.whole_cells"), t("equivariance.chains.fraction")]
    points = base.mark_point(size=70, filled=True).encode(
        shape=alt.Shape("reference:N", title=t("equivariance.chains.reference"),
                        scale=alt.Scale(domain=references, range=["square", "circle"]),
                        legend=alt.Legend(orient="top", direction="vertical", labelLimit=0)))
    # fit-x: as wide as the page, and 340 px the plot's own height whatever the legends take
    return (base.mark_line(strokeWidth=2.5) + points).properties(
        height=340, autosize=alt.AutoSizeParams(type="fit-x", contains="padding")
    ).configure_axis(titleFontSize=13).configure_legend(titleFontSize=13, labelFontSize=13)


def measured_curves(image: np.ndarray, kernel: np.ndarray, names: tuple[str, ...]) -> dict:
    """What the chart section shows of the picked chains' error curves: the rows as the CSV keeps them (English
    identifiers and words, with `reference`), whether every error is undefined (`all_zero`: f(x) is 0), which
    charts have rows (`parts`: hand-built chains, whole networks) and the stride-2 chains' reading (`odd`)."""
    df = measure(image, kernel, names)
    df = df.assign(reference=np.where(df["whole_multiple"], "whole cells (exact)",
                                      "fraction of a cell (Fourier-interpolated)"))
    whole = df["chain"].map(_is_whole_network)
    return {"rows": df, "all_zero": bool(df["error"].isna().all()),
            "parts": [which for which, rows in (("hand", df[~whole]), ("whole", df[whole])) if not rows.empty],
            "odd": eq.odd_shift_reading(df)}


def error_chart(df: pd.DataFrame, kernel: np.ndarray, names: tuple[str, ...], which: str) -> alt.LayerChart:
    """The hand-built chains' chart ("hand") or the whole networks' ("whole"), in the session's language."""
    shown = df.assign(label=df["chain"].map(chain_labels(kernel, names)),
                      reference=np.where(df["whole_multiple"], t("equivariance.chains.whole_cells"),
                                         t("equivariance.chains.fraction")))
    whole = shown["chain"].map(_is_whole_network)
    if which == "hand":
        return _error_chart(shown[~whole], t("equivariance.chains.hand_built"))
    return _error_chart(shown[whole], t("equivariance.chains.whole_networks"))


def stability_caption() -> str | None:
    """The shipped shift-stability rows' reading as the chart section's caption, worded once per version of the
    results file and language (the file is neither read nor read out on a warm run); None without the file."""
    path = positions.STABILITY_FILE
    version = charts.version(path)
    if version is None:
        return None

    def caption():
        rows = positions.load_stability(path)
        return None if rows is None else t("equivariance.chains.stability",
                                           reading=words(positions.stability_reading(rows)))
    return charts.once("equivariance.stability", (version, current()), caption)


@st.fragment  # picking chains changes only this chart
def chains_section(image: np.ndarray, kernel: np.ndarray, keys: tuple[str, str]) -> None:
    """Relative equivariance error against the input shift for the chains the user picks; `keys` as in
    shift_section."""
    st.subheader(t("equivariance.chains.subheader"))
    chains = basic_chains(kernel, keys[1])
    options = list(chains) + list(MODELS)
    labels = charts.once("equivariance.chain_options", (keys[1], current()),
                         lambda: worded(options, lambda n: option_label(chains, n)))
    picked = st.multiselect(t("equivariance.chains.pick"), options, default=default_chains(kernel), key="eq_chains",
                            format_func=labels, help=t("equivariance.chains.pick_help"))
    picked = tuple(n for n in picked if n not in MODELS or model_loads(n))
    if not picked:
        st.info(t("equivariance.chains.pick_none"))
        return
    inputs = (*keys, picked)
    curves_of = charts.once("equivariance.curves", inputs, lambda: measured_curves(image, kernel, picked))
    df = curves_of["rows"]  # shared by every session: read, never changed
    if curves_of["all_zero"]:
        st.info(t("equivariance.chains.all_zero"))
    else:
        # a chart each, one above the other, so each has its own x-axis (a whole CNN, stride 32, is measured up to
        # 64 px, the hand-built chains to ~16) and the full width (side by side, the second was cut off)
        for which in curves_of["parts"]:
            charts.chart("equivariance.error", (*inputs, which),
                         lambda which=which: error_chart(df, kernel, picked, which), width="stretch")
    # the CSV keeps the English identifiers and words it always had; the chart shows the session's language
    st.download_button(t("equivariance.chains.download"), lambda: df.to_csv(index=False), "equivariance_error.csv",
                       "text/csv")
    st.markdown(t("equivariance.chains.how"))
    if curves_of["odd"] is not None:
        st.info(words(curves_of["odd"]))
    caption = stability_caption()
    if caption is not None:
        st.caption(caption)
