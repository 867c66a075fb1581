"""What the bias-by-bias page says about its measurements (core.bias_pairs' measurements and the shipped Fourier
heat maps): one Message per section, its numbers taken from the measurement it words, worded by the interface."""
from __future__ import annotations

import torch

from core.biases import ORDER_FREE
from core.experiments import fourier as fo
from core.messages import Message, listing


def locality_reading(loc: dict[str, list[dict]]) -> Message:
    """`pair_locality` in a sentence: the CNN's 90 % radius at its first and last stage against the ViT's at its
    first and last layer, each beside the freshly initialised model's."""
    cnn, vit = loc["cnn"], loc["vit"]
    values = {"cnn_last": cnn[-1]["r90"], "vit_first": vit[0]["attention_r90"], "vit_last": vit[-1]["attention_r90"],
              "layers": len(vit), "vit_untrained": loc["vit_untrained"][0]["attention_r90"]}
    if len(cnn) == 1:  # a CNN that is no ResNet: its last feature map only
        return Message("biases.locality.reading_last", {**values, "cnn_untrained": loc["cnn_untrained"][-1]["r90"]})
    return Message("biases.locality.reading", {**values, "cnn_first": cnn[0]["r90"], "stages": len(cnn) - 1,
                                               "cnn_untrained": loc["cnn_untrained"][0]["r90"]})


def sharing_reading(sharing: dict, cnn_name: str, vit_name: str) -> Message:
    """`pair_sharing` in a sentence: which model has more parameters (the article says the ViT), and what sharing one
    3 x 3 window saves."""
    n_cnn, n_vit = sharing["n_cnn"], sharing["n_vit"]
    counts = sharing["counts"]
    return Message("biases.sharing.reading_more" if n_vit > n_cnn else "biases.sharing.reading_fewer", {
        "cnn": cnn_name, "vit": vit_name, "n_cnn": n_cnn, "n_vit": n_vit, "ratio": n_vit / n_cnn,
        "conv": counts["conv"], "local": counts["local"]})


def cka_reading(m: dict[str, torch.Tensor]) -> Message:
    """`pair_cka` in a sentence: for each ViT layer the most similar CNN stage, how alike neighbouring ViT layers are
    and how alike its first and last."""
    best = m["cnn_vit"].argmax(0)  # for each ViT layer, the most similar CNN stage
    vv = m["vit_vit"]
    neighbour = float(torch.stack([vv[i, i + 1] for i in range(len(vv) - 1)]).mean())
    return Message("biases.hierarchy.reading", {
        "matches": listing(Message("biases.hierarchy.match", {"layer": j + 1, "stage": int(s),
                                                             "cka": float(m["cnn_vit"][s, j])})
                           for j, s in enumerate(best.tolist())),
        "neighbour": neighbour, "ends": float(vv[0, -1])})


def order_reading(rows) -> Message:
    """`patch_order_rows` (a DataFrame of them) in a sentence: accuracy unshuffled and shuffled on the finest grid,
    whether the ViT uses where its patches are (within ORDER_FREE of its unshuffled accuracy: it does not), and
    accuracy with the most patches dropped."""
    s = rows[rows.test == "shuffle"].pivot(index="x", columns="who", values="accuracy")
    finest = int(s.index.max())
    d = rows[rows.test == "drop"].pivot(index="x", columns="who", values="accuracy")
    order_free = s.loc[finest, "vit"] >= s.loc[1, "vit"] - ORDER_FREE
    most = d.index.max()
    return Message("biases.patches.reading_order_free" if order_free else "biases.patches.reading_uses_order", {
        "grid": finest, "cnn_0": s.loc[1, "cnn"], "cnn_g": s.loc[finest, "cnn"], "vit_0": s.loc[1, "vit"],
        "vit_g": s.loc[finest, "vit"], "zero_0": s.loc[1, "vit_zero"], "perm_0": s.loc[1, "vit_permuted"],
        "frac": float(most), "cnn_d": d.loc[most, "cnn"], "vit_d": d.loc[most, "vit"]})


LOW, HIGH = 8, 16  # cycles per image: below LOW is "low frequency", HIGH and above "high"; the bands compared


def fourier_reading(res: dict) -> Message:
    """The shipped Fourier heat maps (`fourier.load()`) in a sentence: each model's error unperturbed, in the low and
    high bands, and on the axes (waves aligned with a square patch grid) against off them."""
    band = {n: (fo.band_error(res[f"error_{n}"], 1, LOW), fo.band_error(res[f"error_{n}"], HIGH, 100))
            for n in ("cnn", "vit")}
    axis = {n: fo.axis_error(res[f"error_{n}"], res["frequencies"]) for n in ("cnn", "vit")}
    return Message("biases.fourier.reading", {"low": LOW, "high": HIGH, "eps": float(res["eps"]),
                                              "cnn_clean": float(res["clean_cnn"]), "vit_clean": float(res["clean_vit"]),
                                              "cnn_low": band["cnn"][0], "cnn_high": band["cnn"][1],
                                              "vit_low": band["vit"][0], "vit_high": band["vit"][1],
                                              "cnn_on": axis["cnn"][0], "cnn_off": axis["cnn"][1],
                                              "vit_on": axis["vit"][0], "vit_off": axis["vit"][1]})
