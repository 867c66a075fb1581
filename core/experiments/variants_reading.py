"""Is it this CNN? What the data-hunger grid's variants (core.experiments.hunger_results.VARIANTS) say about the shipped
series' results, as Messages the catalogues word (locales/<lang>/data.toml: data.variants).

The shipped CNN is a ResNet with ImageNet's stem on 64-px canvases (total stride 32, a 2x2 last map, zero padding).
A result of the shipped CNN is read as a result about CNNs only where every CNN variant agrees with it; where one
variant turns it around, the reading names the variant and what it changes. Only converged runs are read.
"""
from __future__ import annotations

from core.experiments.hunger_results import (ARCHS, AUGMENT_PX, VARIANTS, converged, kind, series_name,
                                              summary)
from core.experiments.wording import fmt_n
from core.messages import Message, listing, say

CNN_MODELS = ("cnn",) + tuple(m for m in VARIANTS if kind(m) == "cnn")


def plain_rows(rows):
    """The seed-0 rows without augmentation of the two series and the variants: the variants train only those, so
    every model is compared on the same images."""
    rows = converged(rows)
    return rows[(rows.augment_px == 0) & (rows.seed == 0) & rows.model.isin(list(ARCHS) + list(VARIANTS))]


def accuracy(rows) -> dict[str, dict[int, float]]:
    """{model: {N: test accuracy}} of the converged seed-0 runs without augmentation, at the sizes a variant ran."""
    curves = _curves(rows)
    sizes = {n for m in VARIANTS for n in curves.get(m, {})}
    return {m: {n: a for n, a in curve.items() if n in sizes} for m, curve in curves.items()}


def vit_ahead_of_every_cnn(rows, n: int) -> bool | None:
    """Whether the plain ViT beats every CNN measured at N = `n` (the shipped one and each variant, seed 0); None
    where the ViT or no CNN variant ran there. The data page's headline says "the ViT is ahead" of CNNs only where
    this holds."""
    return _vit_ahead(_curves(rows), n)


def _vit_ahead(curves: dict[str, dict[int, float]], n: int) -> bool | None:
    """vit_ahead_of_every_cnn from _curves' accuracies (the headline asks it at several N of the same curves)."""
    acc = {m: c[n] for m, c in curves.items() if n in c}
    cnns = [acc[m] for m in CNN_MODELS if m in acc]
    if "vit" not in acc or not any(m in acc for m in VARIANTS if kind(m) == "cnn"):
        return None
    return all(acc["vit"] > a for a in cnns)


def shipped_cnn_typical(rows, n: int) -> tuple[bool, Message] | None:
    """Whether every CNN variant measured at N = `n` falls on the same side of the plain ViT as the shipped CNN
    (seed 0, no augmentation), and their accuracies as a phrase; None where the ViT or no CNN variant ran there.
    The tour adds this to its data step's answer: a result of one CNN is read as one of CNNs only where it holds."""
    acc = {m: c[n] for m, c in _curves(rows).items() if n in c}
    variants = [m for m in CNN_MODELS[1:] if m in acc]
    if "vit" not in acc or "cnn" not in acc or not variants:
        return None
    behind = acc["cnn"] < acc["vit"]
    holds = all((acc[m] < acc["vit"]) == behind for m in variants)
    return holds, listing([_item(m, acc[m]) for m in variants], "comma")


def _curves(rows) -> dict[str, dict[int, float]]:
    return {m: {n: v[0] for n, v in c.items()} for m, c in summary(plain_rows(rows)).items()}


def _item(model: str, acc: float) -> Message:
    return say("data.variants.item", model=say(f"data.variants.name.{model}"), acc=acc)


def reading(rows, planned: int | None = None) -> Message | None:
    """Whether the shipped CNN's small-data result is shared by every CNN variant or belongs to its stem or padding,
    and what the convolutional stem does to the ViT (markdown); None where no variant has converged."""
    acc = accuracy(rows)
    cnn, vit = acc.get("cnn", {}), acc.get("vit", {})
    variants = [m for m in VARIANTS if acc.get(m)]
    if not variants or not vit:
        return None
    sentences = []
    behind = [n for n in sorted(vit) if n in cnn and cnn[n] < vit[n]]  # where the shipped CNN trails the ViT
    cnn_variants = [m for m in variants if kind(m) == "cnn"]
    if cnn_variants:
        if behind:
            beat = {n: [m for m in cnn_variants if acc[m].get(n, 0) > vit[n]] for n in behind}
            measured = [n for n in behind if any(n in acc[m] for m in cnn_variants)]
            items = lambda n: listing([_item("vit", vit[n]), _item("cnn", cnn[n])]  # noqa: E731
                                      + [_item(m, acc[m][n]) for m in cnn_variants if n in acc[m]], "comma")
            shared = [n for n in measured if not beat[n]]
            at = lambda sizes: listing((say("data.variants.at", n=fmt_n(n), items=items(n))  # noqa: E731
                                        for n in sizes), "semicolon")
            if shared:  # at some sizes, or all, the result holds for every CNN measured
                sentences.append(say("data.variants.shared" if len(shared) == len(measured) else
                                     "data.variants.shared_at", sizes=listing(map(fmt_n, shared)), items=at(shared)))
            if any(beat.values()):
                sentences.append(say("data.variants.design" if not shared else "data.variants.design_at",
                                     items=listing((say("data.variants.beats", n=fmt_n(n), models=listing(
                                         (say(f"data.variants.name.{m}") for m in beat[n]), "and"), items=items(n))
                                         for n in behind if beat[n]), "semicolon")))
        else:
            sentences.append(say("data.variants.cnn_ahead", sizes=listing(map(fmt_n, sorted(set(cnn) & set(vit))))))
    if "vit-convstem" in variants:
        conv = acc["vit-convstem"]
        both = [n for n in sorted(conv) if n in vit]
        sentences.append(say("data.variants.convstem", changes=listing(
            (say("data.variants.change", n=fmt_n(n), vit=vit[n], conv=conv[n], points=100 * (conv[n] - vit[n]))
             for n in both), "comma")))
        cnn_best = {n: max(acc[m][n] for m in CNN_MODELS if n in acc.get(m, {})) for n in both
                    if any(n in acc.get(m, {}) for m in CNN_MODELS)}
        if cnn_best:
            ahead = [n for n in cnn_best if conv[n] > cnn_best[n]]
            sentences.append(say("data.variants.convstem_vs_cnn_ahead" if ahead else
                                 "data.variants.convstem_vs_cnn_behind",
                                 sizes=listing(map(fmt_n, ahead or list(cnn_best)))))
    done = sum(len(acc.get(m, {})) for m in VARIANTS)
    if planned and planned > done:
        sentences.append(say("data.variants.running", done=done, planned=planned))
    return listing(sentences, "sentences")


def headline(rows) -> Message | None:
    """The data page's short answer to its title's question, from the converged runs: who is ahead at which sizes
    without augmentation and with it, and, where the variants ran, whether "the ViT is ahead" holds for every CNN."""
    test = summary(rows)  # of the converged rows
    parts = []
    for aug in (0, AUGMENT_PX):
        cnn, vit = test.get(series_name("cnn", aug), {}), test.get(series_name("vit", aug), {})
        both = sorted(set(cnn) & set(vit))
        if not both:
            continue
        vit_ahead = [n for n in both if vit[n][0] > cnn[n][0]]
        cnn_ahead = [n for n in both if cnn[n][0] > vit[n][0]]
        how = "augmented" if aug else "plain"
        if not vit_ahead:
            parts.append(say(f"data.headline.{how}_cnn", lo=fmt_n(both[0]), hi=fmt_n(both[-1])))
        elif not cnn_ahead:
            parts.append(say(f"data.headline.{how}_vit", lo=fmt_n(both[0]), hi=fmt_n(both[-1])))
        elif max(vit_ahead) < min(cnn_ahead):
            parts.append(say(f"data.headline.{how}_vit_first", to=fmt_n(max(vit_ahead)), cnn=fmt_n(min(cnn_ahead))))
        else:
            parts.append(say(f"data.headline.{how}_mixed", vit=listing(map(fmt_n, vit_ahead)),
                             cnn=listing(map(fmt_n, cnn_ahead))))
    if not parts:
        return None
    plain = test.get("cnn", {}), test.get("vit", {})
    small = [n for n in sorted(set(plain[0]) & set(plain[1])) if plain[1][n][0] > plain[0][n][0]]
    curves = _curves(rows) if small else {}
    held = {n: _vit_ahead(curves, n) for n in small}
    checked = [n for n, v in held.items() if v is not None]
    if checked:
        broken = [n for n in checked if not held[n]]
        kept = [n for n in checked if held[n]]
        if not broken:
            parts.append(say("data.headline.variants_hold", sizes=listing(map(fmt_n, checked))))
        else:
            if kept:
                parts.append(say("data.headline.variants_hold_at", sizes=listing(map(fmt_n, kept))))
            parts.append(say("data.headline.variants_break", sizes=listing(map(fmt_n, broken))))
    return listing(parts, "sentences")
