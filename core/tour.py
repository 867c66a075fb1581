"""The lecture tour, one object per step (no Streamlit here).

Each step asks the room a question with two to four choices. Which choice is right is never written down: the step
measures (the live models through the interface's cached calls, or the shipped results) and its decide function
reads the numbers, so a different model or a new results file changes the answer.

A step is one `Step` in this module: its id, its choices (ids, in order), the page that shows it in full, and three
functions of `lab`, the interface's module of cached calls (ui.lab: the same caches the pages fill, at each page's
default settings): `measure(lab) -> Shown` (the answer, and the chart or pictures that show it), `asks(lab)` (the
numbers its question quotes, never its answer) and `prompt(lab)` (pictures that set the question up). The wording
lives in locales/<lang>/tour.toml under tour.<step>.*: title, short, the question, each choice, the answer sentence
(`answer`, or `answer_<choice>` where it differs by outcome), filled from `Answer.values`, the takeaway likewise
(`takeaway` / `takeaway_<choice>`) and the page link's label (`link`).

Adding an eleventh step touches this module and the catalogues, nothing else:

    # --- 11. depth: does the CNN's view grow? --------------------------------------------------------------------
    def depth(first: float, last: float) -> Answer:  # decide: the numbers -> the right choice (unit-tested)
        return Answer("grows" if last > 2 * first else "stays", {"first": first, "last": last})


    def _measure_depth(lab) -> Shown:  # measure: read a cached measurement, decide, say what to draw
        stages = lab.locality(*PAIR)["cnn"]
        a = depth(stages[0]["r90"], stages[-1]["r90"])
        return Shown(a, Bars([Bar(say("tour.depth.first"), a.values["first"]),
                              Bar(say("tour.depth.last"), a.values["last"])], say("tour.depth.x"), fmt=".1f"))


    DEPTH = Step("depth", ("grows", "stays"), "biases", _measure_depth)  # and DEPTH in STEPS, in the lecture's order

The interface (ui.tour_views) draws `Bars` and pictures for any step; a `Chart` of a new kind needs a drawing there.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import numpy as np
import torch

from core import biases as bi
from core import pictures
from core import sensitivity as sen
from core.attention import LOCAL_SHARE, uniform_attention_distance, vit_geometry
from core.biases import ORDER_FREE
from core.card import model_card
from core.experiments import hunger_results, positions, pretraining_reading, variants_reading
from core.experiments.hunger import AUGMENT_PX
from core.experiments.pretraining import load as load_pretraining
from core.messages import Explained, Message, listing, say
from core.models import EMBEDDED, ModelError


@dataclass(frozen=True)
class Answer:
    correct: str  # the id of the right choice
    values: dict  # the numbers its sentence quotes
    notes: tuple[str, ...] = ()  # extra sentences the data calls for (catalogue: tour.<step>.note_<note>)


Label = Message | str | tuple  # a tuple: parts worded one by one and joined ("cnn: " + a Message)


@dataclass(frozen=True)
class Bar:
    label: Label
    value: float
    colour: str | None = None  # None: every bar in one default colour


@dataclass(frozen=True)
class Bars:
    """Horizontal bars with their values printed large (read from across a room)."""
    bars: list[Bar]
    title: Message  # the value axis
    fmt: str = ".0%"
    log: bool = False  # on a log scale the bars start at 1
    top: float = 1.0  # the axis reaches at least this far (a share: 100 %), else as far as the largest value


@dataclass(frozen=True)
class Chart:
    """A chart that only one step draws: the interface draws `kind` its own way from `data`."""
    kind: str
    data: dict


@dataclass
class Shown:
    answer: Answer
    chart: Bars | Chart | None = None
    pictures: list[tuple[np.ndarray, Message]] = field(default_factory=list)  # (uint8 RGB, caption) side by side


class Missing(Explained):
    """A step's data cannot be had (a results file absent, weights missing): the step says so, the tour goes on."""


def _nothing(lab) -> dict:
    return {}


@dataclass(frozen=True)
class Step:
    id: str
    choices: tuple[str, ...]  # choice ids in the order shown; () for the summary, which asks nothing
    page: str  # the registry name of the page that shows it in full (opened at the settings the answer was measured at)
    measure: Callable[[Any], Shown] | None = None  # lab -> the answer and what shows it; None for the summary
    asks: Callable[[Any], dict] = _nothing  # lab -> the numbers the question quotes (never its answer)
    prompt: Callable[[Any], list[tuple[np.ndarray, Message]]] | None = None  # lab -> pictures that set it up


def step_number(raw: str | None) -> tuple[int, bool]:
    """The 1-based step that `?step=` asks for, and whether it was usable: absent -> (1, True); anything that is not
    a step number (text, 0, past the end, '2.5') -> (1, False), so the page can say it started at step 1."""
    if raw is None:
        return 1, True
    try:
        n = int(str(raw).strip())
    except ValueError:
        return 1, False
    return (n, True) if 1 <= n <= len(STEPS) else (1, False)


def _model(lab, name: str):
    """The loaded model `name`, or Missing saying why it cannot be had."""
    try:
        return lab.model(name)
    except ModelError as e:
        raise Missing("tour.missing_model", model=name, error=e.message) from e


PAIR = ("cnn", "vit")  # the embedded CNN and ViT that the bias steps measure


def _pair(lab) -> None:
    for name in PAIR:
        _model(lab, name)


def _colours(names) -> dict[str, str]:
    return {m: EMBEDDED[m].colour for m in names}


# --- 1. inductive bias: what assuming locality and sharing saves -------------------------------------------------
def bias(counts: dict[str, int]) -> Answer:
    """How many times fewer parameters a 3x3 convolution needs than a fully connected layer for the same map
    (core.biases' counts): the order of magnitude picks the choice, its boundaries halfway (in log) between them."""
    ratio = counts["dense"] / counts["conv"]
    log = math.log10(ratio)
    correct = "ten" if log < 2 else "thousand" if log < 4.5 else "million"
    return Answer(correct, {"ratio": ratio, "conv": counts["conv"], "local": counts.get("local"), "dense": counts["dense"]})


def _measure_bias(lab) -> Shown:
    counts = bi.sharing_counts()
    return Shown(bias(counts), Bars([Bar(say(f"biases.sharing.{k}"), counts[k]) for k in ("conv", "local", "dense")],
                                    say("tour.bias.x"), log=True))


BIAS = Step("bias", ("ten", "thousand", "million"), "biases", _measure_bias)


# --- 2. the CNN's biases: locality, growing with depth (hierarchy) ----------------------------------------------
NEAR_SHARE = 0.25  # a map whose 90 % radius is under a quarter of the image side sees "a few pixels"


def cnn(first_r90: float, last_r90: float, side: int) -> Answer:
    """Where the CNN's first and last stages see: the radius (px) holding 90 % of the effective receptive field."""
    near = lambda r: r < NEAR_SHARE * side  # noqa: E731
    correct = {(True, True): "near_near", (True, False): "near_far"}.get((near(first_r90), near(last_r90)), "far_far")
    return Answer(correct, {"first": first_r90, "last": last_r90, "side": side, "near": NEAR_SHARE * side})


def _measure_cnn(lab) -> Shown:
    _pair(lab)
    stages = lab.locality(*PAIR)["cnn"]
    side = _model(lab, "cnn").input_size[0]
    pics = [(pictures.heat_rgb(s["erf"], 160), say("tour.cnn.stage", stage=s["stage"], r90=s["r90"]))
            for s in (stages[0], stages[-1])]
    return Shown(cnn(stages[0]["r90"], stages[-1]["r90"], side), pictures=pics)


CNN = Step("cnn", ("near_near", "near_far", "far_far"), "biases", _measure_cnn)


# --- 3. the ViT's biases: patches and position embeddings --------------------------------------------------------
def which_of_the_pair(holds: dict[str, bool]) -> str:
    """The choice of a step that asks which of the CNN and the ViT something holds for: "cnn", "vit", "both" or
    "neither"."""
    if holds["cnn"]:
        return "both" if holds["vit"] else "cnn"
    return "vit" if holds["vit"] else "neither"


def vit(intact: dict[str, float], shuffled: dict[str, float], grid: int) -> Answer:
    """Which model keeps its accuracy when each image's grid x grid patches are shuffled ({"cnn", "vit"} -> acc)."""
    correct = which_of_the_pair({m: shuffled[m] >= intact[m] - ORDER_FREE for m in ("cnn", "vit")})
    return Answer(correct, {"grid": grid, "cnn_0": intact["cnn"], "cnn_g": shuffled["cnn"], "vit_0": intact["vit"],
                            "vit_g": shuffled["vit"]})


def _measure_vit(lab) -> Shown:
    _pair(lab)
    df = lab.order(*PAIR)
    if df is None:
        raise Missing("tour.missing_shapes")
    s = df[df.test == "shuffle"].pivot(index="x", columns="who", values="accuracy")
    grid = int(s.index.max())
    answer = vit({m: s.loc[1, m] for m in PAIR}, {m: s.loc[grid, m] for m in PAIR}, grid)
    colours = _colours(PAIR)
    return Shown(answer, Bars([Bar((f"{m}: ", say(f"tour.vit.{k}", grid=grid)), s.loc[g, m], colours[m])
                               for m in PAIR for k, g in (("intact", 1), ("shuffled", grid))], say("tour.accuracy")))


def _vit_grid(lab) -> int:
    return _model(lab, "vit").net.patch_embed.grid_size[0]


def _vit_prompt(lab) -> list[tuple[np.ndarray, Message]]:
    """One probe image, intact and with its patches shuffled on the ViT's grid: what the question asks about."""
    images = bi.probe()[0][:16]
    # the one whose shape stands out most from its background (the probe draws sizes at random)
    contrast = (images - images.flatten(2).median(-1).values[..., None, None]).abs().sum((1, 2, 3))
    images = images[int(contrast.argmax())][None]
    grid = _vit_grid(lab)
    shuffled = bi.shuffle_patches(images, grid, torch.Generator().manual_seed(0))
    up = lambda x: pictures.enlarge(pictures.to_uint8(x[0]), 160)  # noqa: E731
    return [(up(images), say("tour.vit.intact", grid=grid)), (up(shuffled), say("tour.vit.shuffled", grid=grid))]


VIT = Step("vit", ("cnn", "vit", "both", "neither"), "biases", _measure_vit, asks=lambda lab: {"grid": _vit_grid(lab)},
           prompt=_vit_prompt)


# --- 4. equivariance: the article's convolve-then-shift demo ------------------------------------------------------
def equivariance(max_err: float, tol: float, band: int, band_bound: int, side: int) -> Answer:
    """Conv-then-shift against shift-then-conv (core.equivariance.Comparison): the same up to rounding, different only
    within the band the border can reach (kernel radius + shift), or different further in."""
    if max_err <= tol:
        correct = "identical"
    else:
        correct = "border" if band <= band_bound else "everywhere"
    return Answer(correct, {"error": max_err, "band": band, "bound": band_bound, "side": side})


def _measure_equivariance(lab) -> Shown:
    img, c = lab.comparison()
    vmax = max(float(c.shift_then_conv.abs().max()), 1e-12)
    maps = [(pictures.diverging_rgb(c.shift_then_conv.mean(0), vmax), say("tour.equivariance.a")),
            (pictures.diverging_rgb(c.conv_then_shift.mean(0), vmax), say("tour.equivariance.b")),
            (pictures.diverging_rgb(c.diff.mean(0), vmax), say("tour.equivariance.diff"))]
    answer = equivariance(c.max_err, c.tol, c.band, c.band_bound, img.shape[-1])
    return Shown(answer, pictures=[(pictures.enlarge(m, 160), cap) for m, cap in maps])


EQUIVARIANCE = Step("equivariance", ("identical", "border", "everywhere"), "equivariance", _measure_equivariance,
                    asks=lambda lab: {k: lab.defaults("equivariance")[k] for k in ("dx", "dy")})


# --- 5. invariance and what breaks it: stride-2 layers under a 1-pixel shift ----------------------------------------
STRIDE_CHAINS = {"stride": "conv + stride 2", "max_pool": "conv + max-pool 2",
                 "blur_pool": "conv + blur-pool 2 (anti-aliased)"}  # choice -> core.equivariance chain name


def invariance(odd_errors: dict[str, float]) -> Answer:
    """Which stride-2 chain is furthest from a shifted copy at odd shifts (mean normalised error by chain name)."""
    errors = {c: float(odd_errors[name]) for c, name in STRIDE_CHAINS.items()}
    worst = max(errors, key=errors.get)
    best = min(errors, key=errors.get)
    return Answer(worst, {"stride": errors["stride"], "max_pool": errors["max_pool"],
                          "blur_pool": errors["blur_pool"], "best": best})


def odd_shift_errors(rows) -> dict[str, float]:
    """Mean error at the shifts that are not a multiple of 2 px, per chain, from core.equivariance.error_curve rows."""
    out: dict[str, list[float]] = {}
    for r in rows:
        if r["shift_px"] % 2 and not math.isnan(r["error"]):
            out.setdefault(r["chain"], []).append(r["error"])
    return {c: float(np.mean(v)) for c, v in out.items()}


def _measure_invariance(lab) -> Shown:
    answer = invariance(odd_shift_errors(lab.chain_curves().to_dict("records")))
    return Shown(answer, Bars([Bar(say(f"tour.invariance.choice.{c}"), answer.values[c], lab.chain_colour(name))
                               for c, name in STRIDE_CHAINS.items()], say("tour.invariance.x"), fmt=".2f", top=0.0))


INVARIANCE = Step("invariance", ("stride", "max_pool", "blur_pool"), "equivariance", _measure_invariance)


# --- 6. a 1-pixel shift: does the answer flip? -------------------------------------------------------------------
def one_pixel(top1: dict[str, np.ndarray]) -> Answer:
    """How many models change their top-1 class at least once between neighbouring 1-px positions of a sweep."""
    flips = {m: int(np.count_nonzero(np.diff(np.asarray(t)) != 0)) for m, t in top1.items()}
    changed = [m for m, f in flips.items() if f]
    k = len(changed)
    correct = "none" if k == 0 else "one_or_two" if k <= 2 else "three_or_four"
    return Answer(correct, {"changed": k, "models": len(flips), "flips": flips,
                            "pairs": max((len(t) - 1 for t in top1.values()), default=0)})


def _measure_one_pixel(lab) -> Shown:
    scene, path, names = lab.sensitivity_scene()
    loaded = {n: _model(lab, n) for n in names}
    sweep = lab.sweep(scene, tuple(names))
    top1 = {n: p.argmax(1) for n, p in sweep.items()}
    answer = one_pixel(top1)
    answer.values["flips"] = listing((f"{m} {f}" for m, f in answer.values["flips"].items()), "comma")
    rows = [{"model": n, "x": int(x), "class": loaded[n].class_names[k]} for n in names for x, k in zip(path.xs, top1[n])]
    return Shown(answer, Chart("answers_along_path", {"rows": rows, "models": list(names),
                                                      "ticks": [int(v) for v in path.xs[::8]]}))


def _one_pixel_prompt(lab) -> list[tuple[np.ndarray, Message]]:
    scene, path, _ = lab.sensitivity_scene()
    frame = sen.frames(scene.background_image(), scene.sprite(), path, len(path) // 2)
    return [(pictures.enlarge(pictures.to_uint8(frame[0] if frame.dim() == 4 else frame), 160),
             say("tour.one_pixel.scene", positions=len(path)))]


ONE_PIXEL = Step("one_pixel", ("none", "one_or_two", "three_or_four"), "sensitivity", _measure_one_pixel,
                 asks=lambda lab: {"models": len(lab.sensitivity_scene()[2])}, prompt=_one_pixel_prompt)


# --- 7. the centre-trained models away from the centre -----------------------------------------------------------
HOLDS = 0.10  # a model keeps its accuracy away from the centre when it loses less than 10 points there


def centre(near: dict[str, float], far: dict[str, float]) -> Answer:
    """Which centre-trained model ({"cnn", "vit"}) keeps its accuracy on objects far from the centre."""
    correct = which_of_the_pair({m: near[m] - far[m] < HOLDS for m in ("cnn", "vit")})
    return Answer(correct, {"cnn_near": near["cnn"], "cnn_far": far["cnn"], "vit_near": near["vit"],
                            "vit_far": far["vit"]})


def _measure_centre(lab) -> Shown:
    try:
        preds, labels, centres, _ = lab.position_predictions()
    except ModelError as e:
        raise Missing("tour.missing_model", model="cnn-center / vit-center", error=e.message) from e
    acc = positions.centre_accuracy(preds, labels, centres)
    answer = centre({"cnn": acc["cnn-center"][0], "vit": acc["vit-center"][0]},
                    {"cnn": acc["cnn-center"][1], "vit": acc["vit-center"][1]})
    answer.values.update(near_px=positions.NEAR_FAR[0], far_px=positions.NEAR_FAR[1])
    return Shown(answer, Chart("accuracy_by_distance", {"preds": preds, "labels": labels, "centres": centres}))


CENTRE = Step("centre", ("cnn", "vit", "both", "neither"), "data", _measure_centre)


# --- 8. data: who wins with few images, with and without shift augmentation ---------------------------------------
DATA_N = 1_000
POOR = 0.5  # on ten classes (chance 10 %), a model under 50 % has not learnt the task
# the four series the step compares: the answer's value name -> the results' series (hunger_results.series_name)
DATA_SERIES = {f"{m}{suffix}": hunger_results.series_name(m, aug) for suffix, aug in (("", 0), ("_aug", AUGMENT_PX))
               for m in PAIR}


def data(summary: dict, n: int = DATA_N) -> Answer | None:
    """Who is more accurate at N = `n`, without and with shift augmentation, from the converged data-hunger runs
    (core.experiments.hunger_results.summary); None when one of the four series has no converged run there."""
    if any(n not in summary.get(s, {}) for s in DATA_SERIES.values()):
        return None
    acc = {k: summary[s][n][0] for k, s in DATA_SERIES.items()}
    plain = "cnn" if acc["cnn"] >= acc["vit"] else "vit"
    augmented = "cnn" if acc["cnn_aug"] >= acc["vit_aug"] else "vit"
    # a win between two models that have not learnt the task is no win of priors: the answer says so
    notes = ("both_poor",) if max(acc["cnn"], acc["vit"]) < POOR else ()
    return Answer(f"{plain}_{augmented}", {"n": n, **acc}, notes)


def _measure_data(lab) -> Shown:
    rows = hunger_results.load()
    if rows is None:
        raise Missing("tour.missing_results", file="core/results/data_hunger.csv")
    answer = data(hunger_results.summary(rows))
    if answer is None:
        raise Missing("tour.data.not_converged", n=DATA_N)
    typical = variants_reading.shipped_cnn_typical(rows, DATA_N)  # is it this CNN? said where the variants ran
    if typical is not None:
        answer = replace(answer, notes=answer.notes + ("variants_hold" if typical[0] else "variants_break",),
                         values=dict(answer.values, variants=typical[1]))
    return Shown(answer, Bars([Bar(hunger_results.series_label(s), answer.values[k], lab.series_colour(s))
                               for k, s in DATA_SERIES.items()], say("tour.accuracy")))


DATA = Step("data", ("cnn_cnn", "cnn_vit", "vit_cnn", "vit_vit"), "data", _measure_data,
            asks=lambda lab: {"n": DATA_N})


# --- 9. pre-training: who gains more from starting pre-trained ----------------------------------------------------
HELPS = 0.02  # fine-tuning that beats training from scratch by less than 2 points did not help


def pretraining_size(summary: dict) -> int | None:
    """The smallest target size at which both models converged from scratch and fine-tuned (core.experiments.
    pretraining_reading.summary), or None."""
    keys = [(m, i) for m in ("cnn", "vit") for i in ("scratch", "finetune")]
    sizes = set.intersection(*(set(summary.get(k, {})) for k in keys))
    return min(sizes) if sizes else None


def pretraining(summary: dict, n: int) -> Answer:
    """Who gains more from fine-tuning the pre-trained checkpoint rather than training from scratch, at N = `n`."""
    acc = {(m, i): summary[(m, i)][n][0] for m in ("cnn", "vit") for i in ("scratch", "finetune")}
    gain = {m: acc[(m, "finetune")] - acc[(m, "scratch")] for m in ("cnn", "vit")}
    if max(gain.values()) < HELPS:
        correct = "neither"
    else:
        correct = "vit" if gain["vit"] > gain["cnn"] else "cnn"
    return Answer(correct, {"n": n, "cnn_gain": 100 * gain["cnn"], "vit_gain": 100 * gain["vit"],  # points
                            "cnn_scratch": acc[("cnn", "scratch")], "cnn_finetune": acc[("cnn", "finetune")],
                            "vit_scratch": acc[("vit", "scratch")], "vit_finetune": acc[("vit", "finetune")]})


def _trained_on(model: str) -> int:
    """How many images the embedded model was trained on (its model card)."""
    return int(model_card()["models"][model]["training_set"]["images"])


def _pretraining_summary() -> tuple[dict, int]:
    rows = load_pretraining()
    if rows is None or not len(rows):
        raise Missing("tour.missing_results", file="core/results/pretraining.csv")
    summary = pretraining_reading.summary(rows)
    n = pretraining_size(summary)
    if n is None:
        raise Missing("tour.pretraining.not_converged")
    return summary, n


def _measure_pretraining(lab) -> Shown:
    summary, n = _pretraining_summary()
    answer = pretraining(summary, n)
    inits = [i for i in ("scratch", "finetune", "linear") if all(n in summary.get((m, i), {}) for m in PAIR)]
    colours = _colours(PAIR)
    return Shown(answer, Bars([Bar((f"{m}: ", say(f"tour.pretraining.{i}")), summary[(m, i)][n][0], colours[m])
                               for m in PAIR for i in inits], say("tour.accuracy")))


PRETRAINING = Step("pretraining", ("cnn", "vit", "neither"), "data", _measure_pretraining,
                   asks=lambda lab: {"n": _pretraining_summary()[1], "images": _trained_on("vit")})


# --- 10. what the ViT learns: how far its first layer looks -------------------------------------------------------


def learns(first_layer: np.ndarray, uniform: float) -> Answer:
    """Whether the first layer's heads (mean attention distance, px) look near, far or both (ViT paper, Fig. 7)."""
    d = np.asarray(first_layer, dtype=np.float64)
    local = d < LOCAL_SHARE * uniform
    correct = "near" if local.all() else "far" if not local.any() else "mixed"
    return Answer(correct, {"low": float(d.min()), "high": float(d.max()), "heads": int(d.size),
                            "local": int(local.sum()), "uniform": float(uniform)}, ("paper",))


GREY = "#9e9e9e"  # the bars a step compares against (uniform attention, the locality line)


def _measure_learns(lab) -> Shown:
    vit = _model(lab, "vit")
    dist = lab.batch_distance("vit")
    geo = vit_geometry(vit.net, vit.input_size)
    uniform = uniform_attention_distance(geo.grid_size, geo.patch_size, geo.num_prefix_tokens)
    answer = learns(dist[0], uniform)
    answer.values.update(grid=geo.grid_size[0], images=_trained_on("vit"))
    bars = [Bar(say("tour.learns.head", head=h + 1), float(d), EMBEDDED["vit"].colour) for h, d in enumerate(dist[0])]
    bars += [Bar(say("tour.learns.uniform"), uniform, GREY), Bar(say("tour.learns.local_line"), LOCAL_SHARE * uniform, GREY)]
    return Shown(answer, Bars(bars, say("tour.learns.y"), fmt=".1f", top=uniform))


LEARNS = Step("learns", ("near", "far", "mixed"), "attention", _measure_learns)

# --- the summary: what every step found -----------------------------------------------------------------------------
SUMMARY = Step("summary", (), "home")

# The article's argument, in its order: the tour shows the steps in this order, and `?step=N` counts from 1 here.
STEPS = (BIAS, CNN, VIT, EQUIVARIANCE, INVARIANCE, ONE_PIXEL, CENTRE, DATA, PRETRAINING, LEARNS, SUMMARY)
