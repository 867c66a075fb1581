"""The lecture tour's questions and how each answer is read from a measurement (no Streamlit here).

Each step asks the room a question with two to four choices. Which choice is right is never written down: it is
decided here from numbers the lab measures (live models or shipped results), so a different model or a new results
file changes the answer. The wording lives in locales/<lang>/tour.toml under tour.<step>.*: the question, each
choice, the answer sentence (`answer`, or `answer_<choice>` where it differs by outcome), filled from
`Answer.values`, and the takeaway likewise (`takeaway` / `takeaway_<choice>`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.attention import LOCAL_SHARE
from core.biases import ORDER_FREE


@dataclass(frozen=True)
class Step:
    id: str
    choices: tuple[str, ...]  # () for the summary, which asks nothing
    page: str  # the registry name of the page that shows it in full (ui.tour_views opens it at the same settings)


@dataclass(frozen=True)
class Answer:
    correct: str  # the id of the right choice
    values: dict  # the numbers its sentence quotes
    notes: tuple[str, ...] = ()  # extra sentences the data calls for (catalogue: tour.<step>.note_<note>)


# The article's argument, in its order (issue #27).
STEPS = (
    Step("bias", ("ten", "thousand", "million"), "biases"),
    Step("cnn", ("near_near", "near_far", "far_far"), "biases"),
    Step("vit", ("cnn", "vit", "both", "neither"), "biases"),
    Step("equivariance", ("identical", "border", "everywhere"), "equivariance"),
    Step("invariance", ("stride", "max_pool", "blur_pool"), "equivariance"),
    Step("one_pixel", ("none", "one_or_two", "three_or_four"), "sensitivity"),
    Step("centre", ("cnn", "vit", "both", "neither"), "data"),
    Step("data", ("cnn_cnn", "cnn_vit", "vit_cnn", "vit_vit"), "data"),
    Step("pretraining", ("cnn", "vit", "neither"), "data"),
    Step("learns", ("near", "far", "mixed"), "attention"),
    Step("summary", (), "home"),
)


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


# --- 1. inductive bias: what assuming locality and sharing saves -------------------------------------------------
def bias(counts: dict[str, int]) -> Answer:
    """How many times fewer parameters a 3x3 convolution needs than a fully connected layer for the same map
    (core.biases' counts): the order of magnitude picks the choice, its boundaries halfway (in log) between them."""
    ratio = counts["dense"] / counts["conv"]
    log = math.log10(ratio)
    correct = "ten" if log < 2 else "thousand" if log < 4.5 else "million"
    return Answer(correct, {"ratio": ratio, "conv": counts["conv"], "local": counts.get("local"), "dense": counts["dense"]})


# --- 2. the CNN's biases: locality, growing with depth (hierarchy) ----------------------------------------------
NEAR_SHARE = 0.25  # a map whose 90 % radius is under a quarter of the image side sees "a few pixels"


def cnn(first_r90: float, last_r90: float, side: int) -> Answer:
    """Where the CNN's first and last stages see: the radius (px) holding 90 % of the effective receptive field."""
    near = lambda r: r < NEAR_SHARE * side  # noqa: E731
    correct = {(True, True): "near_near", (True, False): "near_far"}.get((near(first_r90), near(last_r90)), "far_far")
    return Answer(correct, {"first": first_r90, "last": last_r90, "side": side, "near": NEAR_SHARE * side})


# --- 3. the ViT's biases: patches and position embeddings --------------------------------------------------------
def vit(intact: dict[str, float], shuffled: dict[str, float], grid: int) -> Answer:
    """Which model keeps its accuracy when each image's grid x grid patches are shuffled ({"cnn", "vit"} -> acc)."""
    keeps = {m: shuffled[m] >= intact[m] - ORDER_FREE for m in ("cnn", "vit")}
    correct = ("both" if keeps["vit"] else "cnn") if keeps["cnn"] else ("vit" if keeps["vit"] else "neither")
    return Answer(correct, {"grid": grid, "cnn_0": intact["cnn"], "cnn_g": shuffled["cnn"], "vit_0": intact["vit"],
                            "vit_g": shuffled["vit"]})


# --- 4. equivariance: the article's convolve-then-shift demo ------------------------------------------------------
def equivariance(max_err: float, tol: float, band: int, band_bound: int, side: int) -> Answer:
    """Conv-then-shift against shift-then-conv (core.equivariance.Comparison): the same up to rounding, different only
    within the band the border can reach (kernel radius + shift), or different further in."""
    if max_err <= tol:
        correct = "identical"
    else:
        correct = "border" if band <= band_bound else "everywhere"
    return Answer(correct, {"error": max_err, "band": band, "bound": band_bound, "side": side})


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


# --- 6. a 1-pixel shift: does the answer flip? -------------------------------------------------------------------
def one_pixel(top1: dict[str, np.ndarray]) -> Answer:
    """How many models change their top-1 class at least once between neighbouring 1-px positions of a sweep."""
    flips = {m: int(np.count_nonzero(np.diff(np.asarray(t)) != 0)) for m, t in top1.items()}
    changed = [m for m, f in flips.items() if f]
    k = len(changed)
    correct = "none" if k == 0 else "one_or_two" if k <= 2 else "three_or_four"
    return Answer(correct, {"changed": k, "models": len(flips), "flips": flips,
                            "pairs": max((len(t) - 1 for t in top1.values()), default=0)})


# --- 7. the centre-trained models away from the centre -----------------------------------------------------------
HOLDS = 0.10  # a model keeps its accuracy away from the centre when it loses less than 10 points there


def centre(near: dict[str, float], far: dict[str, float]) -> Answer:
    """Which centre-trained model ({"cnn", "vit"}) keeps its accuracy on objects far from the centre."""
    holds = {m: near[m] - far[m] < HOLDS for m in ("cnn", "vit")}
    correct = ("both" if holds["vit"] else "cnn") if holds["cnn"] else ("vit" if holds["vit"] else "neither")
    return Answer(correct, {"cnn_near": near["cnn"], "cnn_far": far["cnn"], "vit_near": near["vit"],
                            "vit_far": far["vit"]})


# --- 8. data: who wins with few images, with and without shift augmentation ---------------------------------------
DATA_N = 1_000
POOR = 0.5  # on ten classes (chance 10 %), a model under 50 % has not learnt the task


def data(summary: dict, n: int = DATA_N) -> Answer | None:
    """Who is more accurate at N = `n`, without and with shift augmentation, from the converged data-hunger runs
    (core.experiments.hunger_reading.summary); None when one of the four series has no converged run there."""
    series = ("cnn", "vit", "cnn + shift aug", "vit + shift aug")
    if any(n not in summary.get(s, {}) for s in series):
        return None
    acc = {s: summary[s][n][0] for s in series}
    plain = "cnn" if acc["cnn"] >= acc["vit"] else "vit"
    augmented = "cnn" if acc["cnn + shift aug"] >= acc["vit + shift aug"] else "vit"
    # a win between two models that have not learnt the task is no win of priors: the answer says so
    notes = ("both_poor",) if max(acc["cnn"], acc["vit"]) < POOR else ()
    return Answer(f"{plain}_{augmented}", {"n": n, "cnn": acc["cnn"], "vit": acc["vit"],
                                           "cnn_aug": acc["cnn + shift aug"], "vit_aug": acc["vit + shift aug"]},
                  notes)


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


# --- 10. what the ViT learns: how far its first layer looks -------------------------------------------------------


def learns(first_layer: np.ndarray, uniform: float) -> Answer:
    """Whether the first layer's heads (mean attention distance, px) look near, far or both (ViT paper, Fig. 7)."""
    d = np.asarray(first_layer, dtype=np.float64)
    local = d < LOCAL_SHARE * uniform
    correct = "near" if local.all() else "far" if not local.any() else "mixed"
    return Answer(correct, {"low": float(d.min()), "high": float(d.max()), "heads": int(d.size),
                            "local": int(local.sum()), "uniform": float(uniform)}, ("paper",))
