"""The bias page's pair: each inductive bias measured on a CNN and a ViT side by side. The models come as loaded
(`.net`, `.preprocess`; `pair_sharing` takes their nets), and `scores_shapes` says whether one classifies the probe's
shapes.

- Locality: `pair_locality`, each model's maps trained and freshly initialised, and `locality_radii`, their radii
  as rows (at the `SHARES` of the mass the page draws).
- Hierarchy: `pair_cka`, the CKA of every pair of layers, across the models and within each.
- Weight sharing: `pair_sharing`, what sharing saves beside both models' parameter counts.
- Patches and position embeddings: `patch_order_rows`, both models' accuracy as tiles are shuffled and as
  patches are dropped (`DROP_FRACTIONS`).

core.biases holds the measurements these are built from, each of one model; core.biases_reading words what this
module measures for the page.
"""
from __future__ import annotations

import torch

from core import shapes
from core.attention import vit_geometry
from core.biases import (cka_matrix, cnn_locality, drop_patches, layer_features, order_accuracy, patches_to_drop,
                         sharing_counts, untrained_copy, vit_locality, vit_logits, vit_widths)


def scores_shapes(model) -> bool:
    """Whether a loaded model classifies the shapes (the probe images' classes, in their order)."""
    return list(model.class_names) == list(shapes.CLASSES)


def pair_locality(cnn, vit, images: torch.Tensor) -> dict[str, list[dict]]:
    """`cnn_locality` and `vit_locality` of both models, trained ("cnn", "vit") and freshly initialised
    ("cnn_untrained", "vit_untrained"): locality learnt against locality built in."""
    out = {"cnn": cnn_locality(cnn.net, cnn.preprocess(images)),
           "cnn_untrained": cnn_locality(untrained_copy(cnn.net), cnn.preprocess(images))}
    with torch.inference_mode():
        out["vit"] = vit_locality(vit.net, vit.preprocess(images))
        out["vit_untrained"] = vit_locality(untrained_copy(vit.net), vit.preprocess(images))
    return out


SHARES = (50, 90)  # the shares of a map's mass whose radii the page draws (cnn_locality's r50, r90)


def locality_radii(loc: dict[str, list[dict]]) -> list[dict]:
    """`pair_locality` as one row per (map, depth, weights, share): map "erf" (the CNN's), "attention" or "rollout"
    (the ViT's); depth the CNN's stage (None: its last map) or the ViT's layer; trained True/False; the radius (px)
    holding `share` % of the map's mass. The trained ViT's rollout only (untrained, it is the attention compounded)."""
    rows = []
    for key, kind in (("cnn", "erf"), ("cnn_untrained", "erf"), ("vit", "attention"), ("vit_untrained", "attention"),
                      ("vit", "rollout")):
        for r in loc[key]:
            for share in SHARES:
                rows.append({"map": kind, "depth": r["stage"] if kind == "erf" else r["layer"],
                             "trained": not key.endswith("untrained"), "share": share,
                             "radius": r[f"r{share}"] if kind == "erf" else r[f"{kind}_r{share}"]})
    return rows


@torch.no_grad()
def pair_cka(cnn, vit, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """`cka_matrix` of every pair of layers: CNN against ViT ("cnn_vit", stages x layers), each against itself."""
    fc, fv = layer_features(cnn.net, cnn.preprocess(images)), layer_features(vit.net, vit.preprocess(images))
    return {"cnn_vit": cka_matrix(fc, fv), "cnn_cnn": cka_matrix(fc, fc), "vit_vit": cka_matrix(fv, fv)}


def pair_sharing(cnn_net: torch.nn.Module, vit_net: torch.nn.Module) -> dict:
    """What weight sharing saves (`sharing_counts`, with one block of this ViT), the ViT's width, and both models'
    parameter counts ("n_cnn", "n_vit")."""
    dim, hidden = vit_widths(vit_net)
    return {"counts": sharing_counts(dim, hidden), "vit_dim": dim,
            "n_cnn": sum(p.numel() for p in cnn_net.parameters()), "n_vit": sum(p.numel() for p in vit_net.parameters())}


DROP_FRACTIONS = (0.0, 0.25, 0.5, 0.75, 0.9)


@torch.inference_mode()
def patch_order_rows(cnn, vit, images: torch.Tensor, labels: torch.Tensor) -> list[dict]:
    """Accuracy of a CNN and a ViT (loaded models: `.net`, `.preprocess`) as the images' tiles are shuffled on ever
    finer grids, down to the ViT's patches ("shuffle", x = grid), and as a growing share of patches is dropped ("drop",
    x = fraction): the CNN and the ViT on blacked-out patches, the ViT with the tokens removed; the ViT also with
    its position embeddings zeroed or permuted. One row per (who, test, x)."""
    geo = vit_geometry(vit.net, images.shape[-2:])
    grid = geo.grid_size[0]
    g = torch.Generator().manual_seed(0)
    rows = []
    for who, predict in (("cnn", lambda x: cnn.net(cnn.preprocess(x))),
                         ("vit", lambda x: vit.net(vit.preprocess(x))),
                         ("vit_zero", lambda x: vit_logits(vit.net, vit.preprocess(x), pos="zero")),
                         ("vit_permuted", lambda x: vit_logits(vit.net, vit.preprocess(x), pos="permuted",
                                                               generator=torch.Generator().manual_seed(1)))):
        for k, acc in order_accuracy(predict, images, labels, grids=(2, 4, grid)).items():
            rows.append({"who": who, "test": "shuffle", "x": k, "accuracy": acc})
    for frac in DROP_FRACTIONS:
        dropped = patches_to_drop(geo.num_patches, frac, g)
        keep = torch.tensor([i for i in range(geo.num_patches) if i not in set(dropped.tolist())])
        black = drop_patches(images, grid, dropped)
        for who, logits in (("cnn", cnn.net(cnn.preprocess(black))),
                            ("vit_black", vit.net(vit.preprocess(black))),
                            ("vit", vit_logits(vit.net, vit.preprocess(images), keep=keep))):
            rows.append({"who": who, "test": "drop", "x": frac,
                         "accuracy": float((logits.argmax(-1) == labels).double().mean())})
    return rows
