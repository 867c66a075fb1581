"""The data-hunger results file: where it is, its columns, its rows, the series they form and which rows are results.

core.experiments.hunger writes the file (one row per trained cell), hunger_reading and variants_reading word what it
says, the data page and the tour read it through here. No torch here: any page may load the rows cheaply.

Only converged rows are results (`converged`, `summary`): a run that hit its cap is a lower bound, drawn hollow on
the page and left out of every sentence.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from core.experiments import RESULTS
from core.experiments.wording import fmt_n
from core.messages import Message, say

HUNGER_FILE = RESULTS / "data_hunger.csv"
ARCHS = {"cnn": "resnet", "vit": "vit"}  # the two series every size and augmentation trains
# Variants that ask whether a result belongs to CNNs (or ViTs) or to this one design: trained exactly like their
# kind's series (same pool, recipe, stopping), at the grid's `variant_sizes`, seed 0, no augmentation
# (core.architectures.resnet_variant and vit say what each one changes)
VARIANTS = {"cnn-circular": "resnet-circular", "cnn-s2": "resnet-s2", "cnn-cifar": "resnet-cifar",
            "vit-convstem": "vit-convstem"}  # cheapest first (their training speeds: bench/README.md)
MODELS = {**ARCHS, **VARIANTS}  # a row's `model` -> its architecture (core.models.build_embedded)
AUGMENT_PX = 8  # the augmented series' largest shift, px


def kind(model: str) -> str:
    """"cnn" or "vit": which series' arm (batch, recipe, stopping) a model trains with."""
    return model.split("-")[0]

COLUMNS = ("model", "train_size", "seed", "augment_px", "converged", "images_seen", "steps", "best_step", "lr",
           "weight_decay", "train_accuracy", "val_accuracy", "test_accuracy", "transfer_5shot", "transfer_25shot",
           "seconds", "device", "command")
VIT_COLUMNS = tuple(f"mad_layer_{i + 1}" for i in range(6)) + ("pos_embed_locality", "pos_embed_learnt_locality")
AUGMENTED = " + shift aug"  # how an augmented run's series name ends (series_name); series_label words it


def load(path: Path | None = None):
    """The shipped rows (or those at `path`) as a pandas DataFrame, or None if the file is absent."""
    import pandas as pd  # deferred: pandas costs a page that never reads the rows

    path = HUNGER_FILE if path is None else path
    return pd.read_csv(path) if path.exists() else None


def series_name(model: str, augment_px) -> str:
    """The chart series of a run: the model name, with " + shift aug" for augmented runs (an identifier: the
    results' summaries and the chart colours are keyed by it; `series_label` is what a person reads)."""
    return model + (AUGMENTED if int(augment_px) else "")


def series_label(series: str) -> Message | str:
    """A series as a person reads it: the model name, or "<model> + shift aug" in the reader's language."""
    model, augmented, _ = series.partition(AUGMENTED)
    return say("data.series.augmented", model=model) if augmented else series


def is_converged(row) -> bool:
    """Whether a run stopped by patience (True / "True" in a CSV); rows without the column predate early stopping
    and are not."""
    return str(row.get("converged", False)).strip().lower() in ("true", "1")


def records(rows) -> list[dict]:
    """The rows as a list of dicts, from a DataFrame or any iterable of dicts."""
    return rows.to_dict("records") if hasattr(rows, "to_dict") else list(rows)


def converged(rows):
    """The rows that are results: the runs that converged (a DataFrame in, a DataFrame out)."""
    if hasattr(rows, "to_dict"):  # column-wise, as is_converged reads a row: a page reads the file many times a run
        if "converged" not in rows.columns:
            return rows.iloc[:0]
        return rows[rows["converged"].astype(str).str.strip().str.lower().isin(("true", "1"))]
    return [r for r in rows if is_converged(r)]


def summary(rows, column: str = "test_accuracy") -> dict[str, dict[int, tuple[float, float, int]]]:
    """{series: {N: (mean, sample std over seeds, runs)}} of `column` over the *converged* rows (dicts or a
    DataFrame): every reading goes through here, so a run that hit its cap is never read as a result."""
    groups: dict[str, dict[int, list[float]]] = {}
    done = converged(rows)
    # a frame column by column: a page summarises the same rows many times a run, and its rows as dicts cost ~1 ms
    runs = (zip(*(done[c] for c in ("model", "augment_px", "train_size", column))) if hasattr(done, "columns")
            and len(done) else ((r["model"], r["augment_px"], r["train_size"], r[column]) for r in records(done)))
    for model, augment, n, value in runs:
        groups.setdefault(series_name(model, augment), {}).setdefault(int(n), []).append(float(value))
    return {s: {n: (float(np.mean(a)), float(np.std(a, ddof=1)) if len(a) > 1 else 0.0, len(a))
                for n, a in sorted(by_n.items())} for s, by_n in groups.items()}


def markdown_table(rows) -> str:
    """Mean test accuracy (± its standard deviation over seeds where several ran; training accuracy in brackets) of
    the converged runs by series and N, as a markdown table (README); a cell whose run hit its cap shows its accuracy
    as a lower bound."""
    test, train = summary(rows), summary(rows, "train_accuracy")
    every = records(rows)
    capped = {(series_name(r["model"], r["augment_px"]), int(r["train_size"])): float(r["test_accuracy"])
              for r in every if not is_converged(r)}  # lower bounds, never results
    names = {series_name(r["model"], r["augment_px"]) for r in every}
    sizes = sorted({n for s in test.values() for n in s} | {n for _, n in capped})
    lines = ["| series | " + " | ".join(f"N = {fmt_n(n)}" for n in sizes) + " |", "|---" * (len(sizes) + 1) + "|"]
    for s in sorted(names, key=lambda k: (k.split()[0] != "cnn", k)):
        cells = [f"{test[s][n][0]:.1%}{_spread(test[s][n])} ({train[s][n][0]:.0%})" if n in test.get(s, {}) else
                 f"≥ {capped[(s, n)]:.1%} (cap)" if (s, n) in capped else "" for n in sizes]
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _spread(point: tuple[float, float, int]) -> str:
    return f" ± {100 * point[1]:.1f}" if point[2] > 1 else ""
