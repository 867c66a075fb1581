"""What the data-hunger rows say, as Messages (core.messages) the catalogues word: no training here.

The rows, their series and which of them are results come from core.experiments.hunger_results (only converged
rows are: a run that hit its cap is a lower bound, drawn hollow on the page and left out of every sentence); the
phrases every reading shares from core.experiments.wording.
"""
from __future__ import annotations

from itertools import pairwise

from core.experiments.hunger import ARCHS, AUGMENT_PX, GRIDS
from core.experiments.hunger_results import converged, is_converged, records, series_label, series_name, summary
from core.experiments.wording import device_phrase, fmt_n, seeds_phrase, size_list
from core.messages import Message, listing, say

# The readings are Messages (core.messages): which sentence and which numbers are decided here, the wording is in
# locales/<lang>/data.toml. A list inside a sentence is a chain of Messages (`listing`), joined the way each
# language joins it.


def series_rows(rows):
    """The rows of the two series (ARCHS), without the variants' (core.experiments.variants_reading reads those)."""
    return rows[rows.model.isin(list(ARCHS))] if rows is not None else None


def crossings(sizes, first, second) -> list[tuple[int, int]]:
    """The pairs of neighbouring measured sizes between which `first` - `second` changes sign.

    Exact ties are skipped (a tie with the same sign on both sides is no crossing): the crossover lies
    somewhere in each returned bracket, which is as precise as the measurement allows."""
    diff = [(n, a - b) for n, a, b in zip(sizes, first, second) if a != b]
    return [(int(n0), int(n1)) for (n0, d0), (n1, d1) in pairwise(diff) if (d0 > 0) != (d1 > 0)]


def series_crossings(summ: dict, a: str = "cnn", b: str = "vit") -> list[tuple[int, int]]:
    sa, sb = summ.get(a, {}), summ.get(b, {})
    sizes = sorted(set(sa) & set(sb))
    return crossings(sizes, [sa[n][0] for n in sizes], [sb[n][0] for n in sizes])


def size_to_reach(curve: dict[int, tuple], target: float) -> tuple[int | None, int | None]:
    """(last measured N below `target`, first measured N at or above it) of a mean-accuracy curve:
    (None, N0) if even the smallest size reaches it, (N_max, None) if no size does."""
    below = None
    for n in sorted(curve):
        if curve[n][0] >= target:
            return below, n
        below = n
    return below, None


def reach_phrase(curve: dict, target: float) -> Message:
    lo, hi = size_to_reach(curve, target)
    if hi is None:
        return say("data.reach.never", n=fmt_n(lo)) if lo else say("data.reach.no_data")
    if lo is None:
        return say("data.reach.at_once", n=fmt_n(hi))
    return say("data.reach.between", lo=fmt_n(lo), hi=fmt_n(hi))


def _cnn_vit(rows):
    """(test summary, training summary, cnn test curve, vit test curve, the sizes both were measured at)."""
    test, train = summary(rows), summary(rows, "train_accuracy")
    cnn, vit = test.get("cnn", {}), test.get("vit", {})
    return test, train, cnn, vit, sorted(set(cnn) & set(vit))


MEMORISED_GAP = 0.2  # training minus test accuracy that reads as memorisation
# a model at 99 % on its own training images has fitted them: what it then scores on new images tells whether it
# learnt or memorised (100 % is too strict, a run's best checkpoint may still miss an image or two)
FITTED = 0.99
# the test accuracy whose reach is reported per series: the embedded models (60k images) pass 98 % on these ten
# shapes, so 90 % tells a model that has learnt the task from one still on its way
REACH = 0.9


def reading(rows) -> Message:
    """Plain sentences on the shipped curves (markdown), every number taken from `rows`."""
    test, train, cnn, vit, sizes = _cnn_vit(rows)
    if not sizes:
        return say("data.reading.no_pairs")
    lo, hi = sizes[0], sizes[-1]
    gap = {n: 100 * (cnn[n][0] - vit[n][0]) for n in sizes}
    cross = series_crossings(test)
    if cross:
        lead = say("data.reading.cross", brackets=listing(
            (say("data.reading.bracket", lo=fmt_n(a), hi=fmt_n(b)) for a, b in cross), "enumeration"))
    elif lo == hi:  # one size both converged at (a grid still running): no range to speak of
        lead = say("data.reading.cnn_ahead_one" if gap[lo] > 0 else "data.reading.vit_ahead_one" if gap[lo] < 0
                   else "data.reading.tie", n=fmt_n(lo))
    elif all(g > 0 for g in gap.values()):
        lead = say("data.reading.cnn_ahead", lo=fmt_n(lo), hi=fmt_n(hi))
    elif all(g < 0 for g in gap.values()):
        lead = say("data.reading.vit_ahead", lo=fmt_n(lo), hi=fmt_n(hi))
    else:
        lead = say("data.reading.tie")
    sentences = [lead, say("data.reading.gap_one", gap=gap[lo], n=fmt_n(lo), cnn=cnn[lo][0], vit=vit[lo][0])
                 if lo == hi else
                 say("data.reading.gap", gap_lo=gap[lo], gap_hi=gap[hi], lo=fmt_n(lo), hi=fmt_n(hi),
                     cnn_lo=cnn[lo][0], cnn_hi=cnn[hi][0], vit_lo=vit[lo][0], vit_hi=vit[hi][0])]
    sentences.append(say("data.reading.reach", target=round(100 * REACH), items=listing(
        (say("data.reading.reach_item", series=series_label(s), phrase=reach_phrase(test[s], REACH)) for s in test),
        "semicolon")))
    # fitted its training images yet far worse on new ones (a model at 99 % on both has learnt, not memorised)
    memorised = [s for s in train if train[s].get(lo, (0,))[0] >= FITTED
                 and test[s][lo][0] <= train[s][lo][0] - MEMORISED_GAP]
    if memorised:
        sentences.append(say("data.reading.memorised_one" if len(memorised) == 1 else "data.reading.memorised_many",
                             n=fmt_n(lo), series=listing(map(series_label, memorised), "and"),
                             scores=listing((f"{test[s][lo][0]:.0%}" for s in memorised), "enumeration")))
    return listing(sentences, "sentences")


def augmentation_effect(rows) -> Message | None:
    """How much translation augmentation changes each architecture, from the rows (None without augmented runs)."""
    test = summary(rows)
    parts = []
    for m in ARCHS:
        plain, aug = test.get(m, {}), test.get(series_name(m, AUGMENT_PX), {})
        both = [n for n in sorted(aug) if n in plain]
        if both:
            parts.append(say("data.augmentation.model", model=m, changes=listing(
                (say("data.augmentation.change", change=100 * (aug[n][0] - plain[n][0]), n=fmt_n(n)) for n in both),
                "comma")))
    return say("data.augmentation.effect", parts=listing(parts, "semicolon")) if parts else None


def spread_reading(rows) -> Message | None:
    """At the sizes where several seeds converged: how far apart each series' seeds landed, and whether every seed
    ranks the series alike (None where every size has one seed)."""
    by = {}  # {N: {series: {seed: test accuracy}}}
    for r in converged(records(rows)):
        by.setdefault(int(r["train_size"]), {}).setdefault(series_name(r["model"], r["augment_px"]), {})[
            int(r["seed"])] = float(r["test_accuracy"])
    sentences = []
    for n, series in sorted(by.items()):
        spread = {s: 100 * (max(a.values()) - min(a.values())) for s, a in series.items() if len(a) > 1}
        if not spread:
            continue
        common = set.intersection(*(set(a) for a in series.values()))
        ranks = {tuple(sorted(series, key=lambda s: series[s][seed])) for seed in common}
        sentences.append(say("data.spread.at", n=fmt_n(n), seeds=max(len(series[s]) for s in spread),
                             items=listing((say("data.spread.item", series=series_label(s), points=p)
                                            for s, p in spread.items()), "comma")))
        if len(common) > 1:  # seeds that every series at this size ran
            sentences.append(say("data.spread.same_order" if len(ranks) == 1 else "data.spread.other_order",
                                 n=fmt_n(n)))
    return listing(sentences, "sentences") if sentences else None


PAPERS = say("data.papers.found")  # what the ViT and DeiT papers found (markdown)


def against_the_papers(rows) -> Message | None:
    """What the shipped runs say next to the papers' finding (markdown), decided by the data."""
    _, train, cnn, vit, sizes = _cnn_vit(rows)
    if not sizes:
        return None
    vit_ahead = [n for n in sizes if vit[n][0] > cnn[n][0]]
    cnn_ahead = [n for n in sizes if cnn[n][0] > vit[n][0]]
    top = sizes[-1]
    if not vit_ahead:
        finding = say("data.papers.cnn_ahead", top=fmt_n(top))
    elif cnn_ahead and max(vit_ahead) < min(cnn_ahead):
        fitted = [n for n in vit_ahead if train.get("cnn", {}).get(n, (0,))[0] >= FITTED]
        why = say("data.papers.cnn_memorises", sizes=size_list(fitted)) if fitted else ""
        finding = say("data.papers.vit_ahead_small", small=size_list(vit_ahead), vit_range=_pct_range(vit, vit_ahead),
                      cnn_range=_pct_range(cnn, vit_ahead), why=why, from_n=fmt_n(min(cnn_ahead)),
                      cnn_top=cnn[top][0], vit_top=vit[top][0], top=fmt_n(top))
    else:
        finding = say("data.papers.vit_ahead", sizes=size_list(vit_ahead))
    return say("data.papers.shows", finding=finding, augmented=_augmented_finding(rows))


def _augmented_finding(rows) -> Message | str:
    """The same question for the augmented series: where the ViT with shift augmentation beats the CNN with it."""
    test = summary(rows)
    cnn, vit = test.get(series_name("cnn", AUGMENT_PX), {}), test.get(series_name("vit", AUGMENT_PX), {})
    both = sorted(set(cnn) & set(vit))
    if not both:
        return ""
    ahead = [n for n in both if vit[n][0] > cnn[n][0]]
    if not ahead:
        return say("data.papers.augmented_cnn", top=fmt_n(both[-1]))
    n = max(ahead, key=lambda k: vit[k][0] - cnn[k][0])
    return say("data.papers.augmented_vit", sizes=size_list(ahead), n=fmt_n(n), vit=vit[n][0], cnn=cnn[n][0])


def _pct_range(curve: dict, sizes: list[int]) -> str:
    vals = [curve[n][0] for n in sizes]
    return f"{min(vals):.0%}" if len(vals) == 1 else f"{min(vals):.0%}–{max(vals):.0%}"


def method(rows) -> Message:
    """How the shipped runs were made, in one paragraph (markdown), from the rows and the grid their command names."""
    df = rows
    grid = grid_of(df["command"].iloc[0])
    sizes = sorted(int(n) for n in df.train_size.unique())
    arms = listing((say("data.method.arm", model=m, batch=a.batch, configs=listing(
        (say("data.method.config", lr=lr, wd=wd) for lr, wd in a.configs), "comma"),
        check=fmt_n(a.stop.check_images), patience=a.stop.patience, min_images=fmt_n(a.stop.min_images),
        max_images=fmt_n(a.stop.max_images)) for m, a in grid.arms.items() if m in set(df.model)), "semicolon")
    return say("data.method.text", runs=len(df), sizes=size_list(sizes), augment=AUGMENT_PX, seeds=_seeds(df),
               arms=arms,
               val=grid.val_size, test=grid.test_size, delta=100 * grid.arms["cnn"].stop.min_delta,
               cooldown=grid.arms["cnn"].stop.cooldown,
               best=say("data.method.best_both" if any(len(a.configs) > 1 for a in grid.arms.values())
                        else "data.method.best_checkpoint"),
               device=device_phrase(df.device), command=df.command.iloc[0], minutes=df.seconds.sum() / 60)


def _seeds(df) -> Message:
    """'1 seed', or '1 seed, 2 at N = 1k' where some sizes have run more seeds than the rest."""
    at = df.groupby("train_size").seed.nunique()
    base = int(at.min())
    more = {int(k): sorted(int(n) for n in at.index[at == k]) for k in sorted(set(at)) if k > base}
    first = seeds_phrase(base)
    if not more:
        return first
    return listing([first] + [say("data.method.seeds_at", n=k, sizes=size_list(ns)) for k, ns in more.items()], "comma")


def grid_of(command: str):
    """The grid a results command ran (`--full` or the CPU one)."""
    return GRIDS["full" if "--full" in command.split() else "cpu"]


def convergence_note(rows, planned: int | None = None) -> Message:
    """How many runs converged; which hit their cap (drawn hollow, left out of every reading); and, while the grid
    is still running, how many of its `planned` cells are done."""
    done = len(rows)
    capped = sorted((series_name(r["model"], r["augment_px"]), int(r["train_size"]), int(r["images_seen"]))
                    for r in rows.to_dict("records") if not is_converged(r))
    parts = [say("data.convergence.count", converged=done - len(capped), runs=done)]
    if capped:
        parts.append(say("data.convergence.capped", where=listing(
            (say("data.convergence.run", series=series_label(s), n=fmt_n(n), images=fmt_n(i)) for s, n, i in capped),
            "comma")))
    if planned and planned > done:
        parts.append(say("data.convergence.running_one" if planned - done == 1 else "data.convergence.running",
                         left=planned - done, planned=planned))
    return listing(parts, "sentences")


# a ViT whose every layer attends at 90 % or more of the uniform-attention distance has not learnt to look near:
# attention spread evenly over the image sits at 100 %, the local heads of the ViT paper's Fig. 7 far below
NEAR_UNIFORM = 0.9
# a position embedding whose 2-D locality (core.attention.pos_embed_locality: correlation of embedding similarity
# with grid nearness, 0 for a random start) reaches 0.3 has learnt where its patches are; below, it is mostly noise
LOCAL_EMBEDDING = 0.3


def vit_learning_reading(rows, uniform_px: float) -> Message | None:
    """What the shipped ViT runs' attention distance and position-embedding locality do as N grows."""
    rows = converged(rows)
    vit = rows[(rows.model == "vit") & (rows.augment_px == 0)]
    cols = mad_columns(vit)
    if vit.empty or not cols:
        return None
    learnt = "pos_embed_learnt_locality" in vit.columns and vit["pos_embed_learnt_locality"].notna().all()
    by_n = vit.groupby("train_size")[cols + ["pos_embed_locality"] + (["pos_embed_learnt_locality"] if learnt else [])
                                     ].mean()
    lo, hi = by_n.index.min(), by_n.index.max()
    first, last = cols[0], cols[-1]
    spread = by_n.loc[hi, cols]
    # what training added to the seeded random start, where measured: the start (std 0.02, never decayed) is noise
    # that a plain locality of the trained embedding averages in
    locality = by_n.loc[hi, "pos_embed_learnt_locality" if learnt else "pos_embed_locality"]
    near_uniform = (spread >= NEAR_UNIFORM * uniform_px).all()
    if near_uniform and locality < LOCAL_EMBEDDING:
        verdict = say("data.vit_learning.none", hi=fmt_n(hi), within=round(100 * (1 - NEAR_UNIFORM)))
    else:
        emerged = []
        if not near_uniform:
            emerged.append(say("data.vit_learning.attention_local", px=spread.min(),
                               closer=1 - spread.min() / uniform_px))
        if locality >= LOCAL_EMBEDDING:
            emerged.append(say("data.vit_learning.embedding_learnt_local" if learnt else
                               "data.vit_learning.embedding_local", locality=locality))
        verdict = say("data.vit_learning.some", hi=fmt_n(hi), what=listing(emerged, "semicolon"))
    return say("data.vit_learning.text", first_lo=by_n.loc[lo, first], lo=fmt_n(lo), first_hi=by_n.loc[hi, first],
               hi=fmt_n(hi), last_lo=by_n.loc[lo, last], last_hi=by_n.loc[hi, last], span_min=spread.min(),
               span_max=spread.max(), uniform=uniform_px, loc_lo=by_n.loc[lo, "pos_embed_locality"],
               loc_hi=by_n.loc[hi, "pos_embed_locality"], verdict=verdict,
               learnt=say("data.vit_learning.learnt", lo=by_n.loc[lo, "pos_embed_learnt_locality"],
                          hi=by_n.loc[hi, "pos_embed_learnt_locality"]) if learnt else "")


def mad_columns(rows) -> list[str]:
    cols = rows.columns if hasattr(rows, "columns") else rows[0].keys()
    return sorted((c for c in cols if c.startswith("mad_layer_")), key=lambda c: int(c.rsplit("_", 1)[1]))


def transfer_reading(rows, embedded=None, shots: int = 25) -> Message | None:
    """What the k-shot probes on the five new shapes say (ViT paper, Fig. 4 at lab scale): each architecture's
    accuracy at the smallest and largest N it converged at, the embedded models' (60k images) where measured, and
    which architecture's features transfer better at the sizes both converged at."""
    column = f"transfer_{shots}shot"
    if column not in rows.columns:
        return None
    curves = summary(rows[rows.augment_px == 0], column)
    cnn, vit = curves.get("cnn", {}), curves.get("vit", {})
    both = sorted(set(cnn) & set(vit))
    if not both:
        return None
    items = listing((say("data.transfer.item", model=m, lo=fmt_n(min(c)), acc_lo=c[min(c)][0], hi=fmt_n(max(c)),
                         acc_hi=c[max(c)][0]) for m, c in (("cnn", cnn), ("vit", vit))), "semicolon")
    ahead = [n for n in both if vit[n][0] > cnn[n][0]]
    verdict = (say("data.transfer.cnn_ahead", sizes=size_list(both)) if not ahead else
               say("data.transfer.vit_ahead", sizes=size_list(both)) if len(ahead) == len(both) else
               say("data.transfer.mixed", vit_sizes=size_list(ahead), cnn_sizes=size_list([n for n in both if n not in ahead])))
    big = ""
    if embedded is not None and column in embedded.columns and {"cnn", "vit"} <= set(embedded.model):
        e = embedded.set_index("model")
        big = say("data.transfer.embedded", n=fmt_n(int(e.loc["cnn", "train_size"])), cnn=e.loc["cnn", column],
                  vit=e.loc["vit", column])
    return say("data.transfer.text", shots=shots, items=items, verdict=verdict, embedded=big)
