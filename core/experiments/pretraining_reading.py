"""What the pre-training rows say, as Messages (core.messages) the catalogues word: no training here.

Only converged rows are read (a run that hit its cap is a lower bound).
"""
from __future__ import annotations

from core import shapes
from core.experiments import hunger
from core.experiments.hunger_results import converged
from core.experiments.wording import device_phrase, fmt_n, seeds_phrase, size_list
from core.messages import Message, listing, say


def summary(rows) -> dict[tuple[str, str], dict[int, tuple[float, float, int]]]:
    """{(model, init): {N: (mean test accuracy, sample std over seeds, runs)}} of the converged rows."""
    out: dict = {}
    for (model, init, n), g in converged(rows).groupby(["model", "init", "target_size"]):
        a = g["test_accuracy"].to_numpy(float)
        out.setdefault((model, init), {})[int(n)] = (float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0,
                                                     len(a))
    return out


def gain(summ, model: str, init: str = "finetune") -> dict[int, float]:
    """Test accuracy of `init` minus that of training from scratch, per N (where both were run)."""
    a, b = summ.get((model, init), {}), summ.get((model, "scratch"), {})
    return {n: a[n][0] - b[n][0] for n in sorted(set(a) & set(b))}


def method(rows, infos: dict[str, dict]) -> Message:
    sizes = sorted(int(n) for n in rows["target_size"].unique())
    source = listing((say("data.pretraining.source_model", model=m, images=fmt_n(int(i["images"])),
                          steps=int(i["steps"]), val=float(i["val_accuracy"])) for m, i in infos.items()), "semicolon")
    return say("data.pretraining.method", source=source,
               targets=listing(say(f"shape.{c}") for c in shapes.TARGET_CLASSES),
               sizes=size_list(sizes), seeds=seeds_phrase(int(rows["seed"].nunique())),
               device=device_phrase(rows["device"]), converged=len(converged(rows)), runs=len(rows))


WEAK_SOURCE = 0.9  # a pre-trained checkpoint below this source validation accuracy has not learnt its task
# mean fine-tuning gains (accuracy, 0-1) within one point of each other read as the same: the runs have one seed, and
# a point is 20 of the 2,000 test images (core.experiments.pretraining.GRID)
SAME_GAIN = 0.01


def source_note(infos: dict[str, dict]) -> Message | None:
    """A warning when a pre-trained checkpoint is far from having learnt the source task: its transfer results then
    say little about what pre-training does)."""
    weak = [(m, float(i["val_accuracy"])) for m, i in infos.items() if float(i["val_accuracy"]) < WEAK_SOURCE]
    if not weak:
        return None
    return say("data.pretraining.weak_source", models=listing(
        (say("data.pretraining.weak_item", model=m, val=v) for m, v in weak), "and"), threshold=WEAK_SOURCE)


def reading(rows) -> list[Message]:
    """Does pre-training help the ViT more than the CNN here? The fine-tuning gain of each architecture at the
    smallest and the largest N both have run, the verdict on their mean gain over the sizes both have run (a size
    only one of them has reached says nothing about the other), and how far a linear probe gets."""
    summ = summary(rows)
    gains = {m: gain(summ, m) for m in hunger.ARCHS}
    if not all(gains.values()):  # one architecture has no size with both starts converged yet: no comparison
        return [say("data.pretraining.waiting", models=listing((m for m, g in gains.items() if not g), "enumeration"))]
    common = sorted(set.intersection(*(set(g) for g in gains.values())))  # compare like with like: the same sizes
    if not common:
        return [say("data.pretraining.no_common_size")]
    out = []
    for n in sorted({common[0], common[-1]}):
        out.append(say("data.pretraining.gain_at", n=fmt_n(n), items=listing(
            (say("data.pretraining.gain_item", model=m, scratch=summ[(m, "scratch")][n][0],
                 finetune=summ[(m, "finetune")][n][0], gain=gains[m][n] * 100) for m in hunger.ARCHS),
            "semicolon")))
    mean = {m: sum(g[n] for n in common) / len(common) for m, g in gains.items()}
    gains_pts = {"vit": mean["vit"] * 100, "cnn": mean["cnn"] * 100,
                 "sizes": say("data.pretraining.at_one_size", n=fmt_n(common[0])) if len(common) == 1 else
                 say("data.pretraining.over_sizes", sizes=size_list(common))}
    out.append(say("data.pretraining.vit_gains_more", **gains_pts) if mean["vit"] > mean["cnn"] + SAME_GAIN else
               say("data.pretraining.cnn_gains_more", **gains_pts) if mean["cnn"] > mean["vit"] + SAME_GAIN else
               say("data.pretraining.same_gain", **gains_pts))
    probe = {m: summ.get((m, "linear"), {}) for m in hunger.ARCHS}
    if all(probe.values()):
        n = max(set.intersection(*(set(p) for p in probe.values())))
        out.append(say("data.pretraining.linear", n=fmt_n(n), items=listing(
            (say("data.pretraining.linear_item", model=m, probe=probe[m][n][0], finetune=summ[(m, "finetune")][n][0])
             for m in hunger.ARCHS), "semicolon")))
    return out


def markdown_table(rows) -> str:
    """The README's table: mean test accuracy of the converged runs per N, each (architecture, start) a column."""
    summ = summary(rows)
    cols = [(m, i) for m in hunger.ARCHS for i in ("scratch", "finetune", "linear")]
    names = {"scratch": "from scratch", "finetune": "fine-tuned", "linear": "linear probe"}
    sizes = sorted({n for curve in summ.values() for n in curve})
    lines = ["| N | " + " | ".join(f"{m.upper() if m == 'cnn' else 'ViT'} {names[i]}" for m, i in cols) + " |",
             "|---" * (len(cols) + 1) + "|"]
    for n in sizes:
        cells = [f"{summ[c][n][0]:.1%}".replace("%", " %") if n in summ.get(c, {}) else "—" for c in cols]
        lines.append(f"| {n:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
