"""The lecture tour: each step's measurement, read from the same cached computations as the page that shows it in full
(so the warm-up has already made them), and the small chart that shows its answer. core.tour decides which choice
is right; nothing here is an answer typed in."""
from __future__ import annotations

from dataclasses import dataclass

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core import pictures, tour
from core.models import EMBEDDED, ModelError
from ui import biases_views as bv
from ui import data_views as dv
from ui import equivariance_views as ev
from ui import png, present
from ui import sensitivity_views as sv
from ui.i18n import catalogue, current, name_of, t, words
from ui.models import cached_model


class Missing(Exception):
    """A step's data cannot be had (a results file absent, weights missing): the step says so, the tour goes on."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class Shown:
    answer: tour.Answer
    chart: alt.TopLevelMixin | None = None
    pictures: list[tuple[np.ndarray, str]] | None = None  # (uint8 RGB, caption) side by side


def _model(name: str):
    try:
        return cached_model(name)
    except ModelError as e:
        raise Missing(t("tour.missing_model", model=name, error=words(e))) from e


def _bars(df: pd.DataFrame, x: str, y: str, colour: str, x_title: str, fmt: str = ".0%", log: bool = False,
          colours: dict | None = None, top: float = 1.0) -> alt.Chart:
    """Horizontal bars with their values printed large: the tour's charts are read from across a room. On a log
    scale the bars start at 1 (a bar from 0 has no length there)."""
    most = float(df[x].max())
    scale = alt.Scale(type="log", domain=[1, most * 10_000_000]) if log else alt.Scale(domain=[0, 1.2 * max(top, most)])
    c = alt.Color(f"{colour}:N", legend=None, scale=alt.Scale(domain=list(colours), range=list(colours.values()))
                  ) if colours else alt.value("#4c78a8")
    base = alt.Chart(df).encode(y=alt.Y(f"{y}:N", title=None, sort=None, axis=alt.Axis(labelLimit=360)),
                                x=alt.X(f"{x}:Q", title=x_title, scale=scale,
                                        axis=alt.Axis(format="~s" if log else fmt, tickCount=4, **(
                                            {"values": [0, 0.25, 0.5, 0.75, 1]} if fmt == ".0%" and not log else {}))))
    bars = base.mark_bar().encode(color=c, **({"x2": alt.datum(1)} if log else {}))
    text = base.mark_text(align="left", dx=5, fontSize=18, fontWeight="bold").encode(
        text=alt.Text(f"{x}:Q", format=",.0f" if log else fmt))
    return (bars + text).properties(height=alt.Step(40))


def _trained_on(model: str) -> int:
    """How many images the embedded model was trained on (its model card)."""
    from core.card import model_card

    return int(model_card()["models"][model]["training_set"]["images"])


# --- the steps' measurements --------------------------------------------------------------------------------------
def _bias() -> Shown:
    counts = bv.sharing_counts()
    rows = pd.DataFrame([{"layer": t(f"biases.sharing.{k}"), "params": counts[k]}
                         for k in ("conv", "local", "dense")])
    return Shown(tour.bias(counts), _bars(rows, "params", "layer", "layer", t("tour.bias.x"), log=True))


def _pair() -> None:
    """The embedded CNN and ViT that the bias steps measure, or Missing."""
    for name in ("cnn", "vit"):
        _model(name)


def _cnn() -> Shown:
    _pair()
    loc = bv.locality("cnn", "vit")
    side = _model("cnn").input_size[0]
    stages = loc["cnn"]
    pics = [(bv.heat_rgb(s["erf"], 160), t("tour.cnn.stage", stage=s["stage"], r90=s["r90"])) for s in (stages[0], stages[-1])]
    return Shown(tour.cnn(stages[0]["r90"], stages[-1]["r90"], side), pictures=pics)


def _vit() -> Shown:
    _pair()
    df = bv.order("cnn", "vit")
    if df is None:
        raise Missing(t("tour.missing_shapes"))
    s = df[df.test == "shuffle"].pivot(index="x", columns="who", values="accuracy")
    grid = int(s.index.max())
    answer = tour.vit({m: s.loc[1, m] for m in ("cnn", "vit")}, {m: s.loc[grid, m] for m in ("cnn", "vit")}, grid)
    rows = pd.DataFrame([{"who": f"{m}: {t('tour.vit.' + k, grid=grid)}", "model": m, "accuracy": s.loc[g, m]}
                         for m in ("cnn", "vit") for k, g in (("intact", 1), ("shuffled", grid))])
    colours = {m: EMBEDDED[m].colour for m in ("cnn", "vit")}
    return Shown(answer, _bars(rows, "accuracy", "who", "model", t("tour.accuracy"), colours=colours))


def vit_prompt() -> list[tuple[np.ndarray, str]]:
    """One probe image, intact and with its patches shuffled on the ViT's grid: what the question asks about."""
    import torch

    from core import biases as bi
    images = bv.probe()[0][:16]
    # the one whose shape stands out most from its background (the probe draws sizes at random)
    contrast = (images - images.flatten(2).median(-1).values[..., None, None]).abs().sum((1, 2, 3))
    images = images[int(contrast.argmax())][None]
    grid = _model("vit").net.patch_embed.grid_size[0]
    shuffled = bi.shuffle_patches(images, grid, torch.Generator().manual_seed(0))
    up = lambda x: pictures.enlarge(pictures.to_uint8(x[0]), 160)  # noqa: E731
    return [(up(images), t("tour.vit.intact", grid=grid)), (up(shuffled), t("tour.vit.shuffled", grid=grid))]


def _equivariance_inputs():
    from core import equivariance as eq
    from ui.images import sample

    d = ev.DEFAULTS
    img = sample(d["image"]).numpy()
    return img, ev.kernel_array(eq.kernel_preset(d["kernel"], d["size"], d["seed"])), d


def _equivariance() -> Shown:
    img, kernel, d = _equivariance_inputs()
    c = ev.compare(img, kernel, d["dx"], d["dy"], d["mode"])
    vmax = max(float(c.shift_then_conv.abs().max()), 1e-12)
    maps = [(pictures.diverging_rgb(c.shift_then_conv.mean(0), vmax), t("tour.equivariance.a")),
            (pictures.diverging_rgb(c.conv_then_shift.mean(0), vmax), t("tour.equivariance.b")),
            (pictures.diverging_rgb(c.diff.mean(0), vmax), t("tour.equivariance.diff"))]
    answer = tour.equivariance(c.max_err, c.tol, c.band, c.band_bound, img.shape[-1])
    return Shown(answer, pictures=[(pictures.enlarge(m, 160), cap) for m, cap in maps])


def _invariance() -> Shown:
    img, kernel, _ = _equivariance_inputs()
    rows = ev.curves(img, kernel, tuple(ev.default_chains(kernel)))
    answer = tour.invariance(tour.odd_shift_errors(rows.to_dict("records")))
    bars = pd.DataFrame([{"chain": t(f"tour.invariance.choice.{c}"), "error": answer.values[c]}
                         for c in tour.STRIDE_CHAINS])
    colours = {t(f"tour.invariance.choice.{c}"): ev.chain_colour(n) for c, n in tour.STRIDE_CHAINS.items()}
    return Shown(answer, _bars(bars, "error", "chain", "chain", t("tour.invariance.x"), fmt=".2f", colours=colours))


def _one_pixel() -> Shown:
    names = sv.DEFAULT_MODELS
    for n in names:
        _model(n)
    sweep = sv.cached_sweep(sv.DEFAULT_SCENE, tuple(names))
    top1 = {n: p.argmax(1) for n, p in sweep.items()}
    xs = sv.scene_path(sv.DEFAULT_SCENE).xs
    rows = pd.DataFrame([{"model": n, "x": int(x), "answer": name_of("shape", cached_model(n).class_names[k])}
                         for n in names for x, k in zip(xs, top1[n])])
    chart = alt.Chart(rows).mark_rect().encode(
        x=alt.X("x:O", title=t("tour.one_pixel.x"), axis=alt.Axis(values=[int(v) for v in xs[::8]], labelAngle=0)),
        y=alt.Y("model:N", title=None, sort=list(names)),
        color=alt.Color("answer:N", title=t("tour.one_pixel.answer_legend"), legend=alt.Legend(orient="bottom")),
        tooltip=[alt.Tooltip("model:N", title=t("tour.one_pixel.model")), alt.Tooltip("x:O", title=t("tour.one_pixel.x")),
                 alt.Tooltip("answer:N", title=t("tour.one_pixel.answer_legend"))]).properties(height=alt.Step(30))
    answer = tour.one_pixel(top1)
    answer.values["flips"] = ", ".join(f"{m} {f}" for m, f in answer.values["flips"].items())
    return Shown(answer, chart)


def one_pixel_prompt() -> list[tuple[np.ndarray, str]]:
    from core import sensitivity as sen

    scene = sv.DEFAULT_SCENE
    path = sv.scene_path(scene)
    frame = sen.frames(scene.background_image(), scene.sprite(), path, len(path) // 2)
    return [(pictures.enlarge(pictures.to_uint8(frame[0] if frame.dim() == 4 else frame), 160),
             t("tour.one_pixel.scene", positions=len(path)))]


def _centre() -> Shown:
    try:
        preds, labels, centres, _ = dv.position_predictions()
    except ModelError as e:
        raise Missing(t("tour.missing_model", model="cnn-center / vit-center", error=words(e))) from e
    acc = dv.centre_accuracy(preds, labels, centres)
    answer = tour.centre({"cnn": acc["cnn-center"][0], "vit": acc["vit-center"][0]},
                         {"cnn": acc["cnn-center"][1], "vit": acc["vit-center"][1]})
    answer.values.update(near_px=dv.NEAR_FAR[0], far_px=dv.NEAR_FAR[1])
    return Shown(answer, dv.distance_chart(preds, labels, centres).properties(height=220))


def _data() -> Shown:
    from core.experiments import hunger_reading as hr

    rows = hr.load()
    if rows is None:
        raise Missing(t("tour.missing_results", file="core/results/data_hunger.csv"))
    answer = tour.data(hr.summary(rows))
    if answer is None:
        raise Missing(t("tour.data.not_converged", n=tour.DATA_N))
    v = answer.values
    series = {"cnn": v["cnn"], "vit": v["vit"], "cnn + shift aug": v["cnn_aug"], "vit + shift aug": v["vit_aug"]}
    df = pd.DataFrame([{"series": dv.series_text(s), "accuracy": a} for s, a in series.items()])
    colours = {dv.series_text(s): dv.SERIES_COLOURS[s] for s in series}
    return Shown(answer, _bars(df, "accuracy", "series", "series", t("tour.accuracy"), colours=colours))


def _pretraining_summary():
    from core.experiments import pretraining as pt
    from core.experiments import pretraining_reading as ptr

    rows = pt.load()
    if rows is None or not len(rows):
        raise Missing(t("tour.missing_results", file="core/results/pretraining.csv"))
    summary = ptr.summary(rows)
    n = tour.pretraining_size(summary)
    if n is None:
        raise Missing(t("tour.pretraining.not_converged"))
    return summary, n


def _pretraining() -> Shown:
    summary, n = _pretraining_summary()
    answer = tour.pretraining(summary, n)
    inits = [i for i in ("scratch", "finetune", "linear") if all(n in summary.get((m, i), {}) for m in ("cnn", "vit"))]
    df = pd.DataFrame([{"row": f"{m}: {t('tour.pretraining.' + i)}", "model": m, "accuracy": summary[(m, i)][n][0]}
                       for m in ("cnn", "vit") for i in inits])
    colours = {m: EMBEDDED[m].colour for m in ("cnn", "vit")}
    return Shown(answer, _bars(df, "accuracy", "row", "model", t("tour.accuracy"), colours=colours))


def _learns() -> Shown:
    from core import attention as att
    from ui import attention_views as av

    vit = _model("vit")
    dist = av.batch_distance("vit")
    geo = att.vit_geometry(vit.net, vit.input_size)
    uniform = att.uniform_attention_distance(geo.grid_size, geo.patch_size, geo.num_prefix_tokens)
    answer = tour.learns(dist[0], uniform)
    answer.values.update(grid=geo.grid_size[0], images=_trained_on("vit"))
    grey = "#9e9e9e"
    bars = pd.DataFrame([{"what": t("tour.learns.head", head=h + 1), "px": float(d), "colour": EMBEDDED["vit"].colour}
                         for h, d in enumerate(dist[0])] +
                        [{"what": t("tour.learns.uniform"), "px": uniform, "colour": grey},
                         {"what": t("tour.learns.local_line"), "px": tour.LOCAL_SHARE * uniform, "colour": grey}])
    colours = dict(zip(bars.what, bars.colour))
    return Shown(answer, _bars(bars, "px", "what", "what", t("tour.learns.y"), fmt=".1f", colours=colours,
                               top=uniform))


MEASURE = {"bias": _bias, "cnn": _cnn, "vit": _vit, "equivariance": _equivariance, "invariance": _invariance,
           "one_pixel": _one_pixel, "centre": _centre, "data": _data, "pretraining": _pretraining, "learns": _learns}
PROMPTS = {"vit": vit_prompt, "one_pixel": one_pixel_prompt}  # pictures that set a question up (give nothing away)


def question_values(step: tour.Step) -> dict:
    """The numbers a question quotes (not its answer): the shuffle grid, the pre-training size."""
    if step.id == "vit":
        return {"grid": _model("vit").net.patch_embed.grid_size[0]}
    if step.id == "data":
        return {"n": tour.DATA_N}
    if step.id == "pretraining":
        return {"n": _pretraining_summary()[1], "images": _trained_on("vit")}
    if step.id == "equivariance":
        return {"dx": ev.DEFAULTS["dx"], "dy": ev.DEFAULTS["dy"]}
    if step.id == "one_pixel":
        return {"models": len(sv.DEFAULT_MODELS)}
    return {}


def page_query(step: tour.Step) -> dict[str, str]:
    """The query parameters that open the step's page at the settings its answer was measured at (each page's own
    defaults, so the link and the answer cannot drift apart)."""
    if step.page == "biases":
        return {"bi-cnn": bv.DEFAULTS["cnn"], "bi-vit": bv.DEFAULTS["vit"]}
    if step.page == "equivariance":
        return {k: str(ev.DEFAULTS[k]) for k in ("image", "kernel", "size", "dx", "dy", "mode")}
    if step.page == "sensitivity":
        scene = sv.DEFAULT_SCENE
        return {"shape": scene.shape, "path": scene.path, "models": ",".join(sv.DEFAULT_MODELS)}
    if step.page == "attention":
        from ui import attention_views as av

        return {"model": av.DEFAULTS["model"]}
    return {}


def measure(step: tour.Step) -> Shown:
    return MEASURE[step.id]()


def _text(step: tour.Step, what: str, a: tour.Answer) -> str:
    """tour.<step>.<what>_<outcome>, or tour.<step>.<what> where one sentence fits every outcome; a value that names
    one of the step's choices is also given worded, as <name>_label."""
    cat = catalogue(current())
    key = f"tour.{step.id}.{what}_{a.correct}"
    key = key if key in cat else f"tour.{step.id}.{what}"
    labels = {f"{k}_label": t(f"tour.{step.id}.choice.{v}") for k, v in a.values.items()
              if isinstance(v, str) and v in step.choices}
    return t(key, **a.values, **labels)


def answer_text(step: tour.Step, a: tour.Answer) -> str:
    """The answer's sentence, and the notes the data calls for."""
    return " ".join([_text(step, "answer", a)] + [t(f"tour.{step.id}.note_{n}") for n in a.notes])


def takeaway_text(step: tour.Step, a: tour.Answer) -> str:
    return _text(step, "takeaway", a)


def show_pictures(pics: list[tuple[np.ndarray, str]]) -> None:
    """Side by side, at most half the column wide each (one screen on a projector)."""
    for col, (rgb, caption) in zip(st.columns(max(2, len(pics))), pics):
        col.image(png(rgb), width="stretch")
        col.markdown(caption)  # text, not an image caption: projector mode hides those


def summary(left, right) -> None:
    """The last step: what each step found, as its data gives it (a step without data says why): its answer, short
    enough that the whole lecture fits one screen."""
    left.markdown(t("tour.summary.intro"))
    for i, s in enumerate(tour.STEPS[:-1], 1):
        try:
            line = t(f"tour.{s.id}.choice.{measure(s).answer.correct}")
        except Missing:
            line = t("tour.summary.no_data")
        (left if i <= 4 else right).markdown(t("tour.summary.line", n=i, step=t(f"tour.{s.id}.short"), answer=line))


def show(shown: Shown) -> None:
    if shown.pictures:
        show_pictures(shown.pictures)
    if shown.chart is not None:
        present.chart(shown.chart, width="stretch")



# --- where the lecture is: the step (bookmarked as ?step=N) and what has been revealed -------------------------------
STEP = "tour_step"  # session state: the 1-based step shown
REVEALED = "tour_revealed"  # session state: the ids of the steps revealed in this session
HIDE = "tour_hide"  # the sidebar switch: hide answers until revealed (on), or show them at once (self-study)


def current_step() -> tuple[int, bool]:
    """The step to show, and whether the URL's ?step= was usable (seeded once from the URL, then the session's)."""
    if STEP not in st.session_state:
        st.session_state[STEP], ok = tour.step_number(st.query_params.get("step"))
        return st.session_state[STEP], ok
    return st.session_state[STEP], True


def go(n: int) -> None:
    """on_click of the navigation buttons."""
    st.session_state[STEP] = min(max(n, 1), len(tour.STEPS))


def reveal(step_id: str) -> None:
    st.session_state.setdefault(REVEALED, set()).add(step_id)


def is_shown(step_id: str) -> bool:
    return step_id in st.session_state.get(REVEALED, set()) or not st.session_state.get(HIDE, True)
