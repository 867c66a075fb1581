"""Why this class: class-specific saliency maps of a CNN and a ViT.

CNN: CAM (Zhou et al. 2016) and Grad-CAM (Selvaraju et al. 2017), both from TorchCAM, on the last convolutional
feature map. ViT: the class token's attention in the last block, attention rollout (Abnar & Zuidema 2020), Grad-CAM
on the last block's token grid (TorchCAM, tokens reshaped to the patch grid), and gradient-weighted attention
relevance (Chefer et al. 2021, "Generic attention-model explainability": R <- R + mean_h[(dA * A)+] R per block).
TorchCAM's LeGrad needs torchvision's nn.MultiheadAttention blocks, so it cannot read a timm ViT.

How faithful each map is, and how maps of different resolution are compared, is core.faithfulness.

The maps are computed on a *shadow* of the model: a copy of its module tree that shares the parameter tensors.
Hooks and the attention flag are set on the shadow only, so the shared model that other sessions run at the same
time is never touched, and nothing stays attached after a call.
"""
from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torchcam.methods import CAM, GradCAM
from torchcam.methods._utils import locate_candidate_layer

from core import attention as att
from core.messages import Explained
from core.models import LoadedModel
from core.pictures import stretch

CNN_METHODS = ("cam", "gradcam")
VIT_METHODS = ("attention", "rollout", "gradcam", "relevance")


class ExplainError(Explained, ValueError):
    """This model cannot be explained this way (locales: error.explain.*)."""


@dataclass(frozen=True)
class Explanation:
    model: str
    class_idx: int
    probs: np.ndarray  # [classes] of the unperturbed image
    maps: dict[str, np.ndarray]  # method -> [H, W] in [0, 1] at the model's input size (bilinear), for display
    native: dict[str, np.ndarray]  # method -> the map at its own size (feature map, patch grid), in [0, 1]


def methods_for(lm: LoadedModel) -> tuple[str, ...]:
    return VIT_METHODS if att.is_vit(lm.net) else CNN_METHODS


def shadow(net: torch.nn.Module) -> torch.nn.Module:
    """A copy of `net`'s modules sharing its parameters and buffers (no weights copied): hooks go here."""
    memo = {id(t): t for t in itertools.chain(net.parameters(), net.buffers())}
    return copy.deepcopy(net, memo)


def stretched(m: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """A map [h, w] resized (bilinear) to `size` and scaled to [0, 1] (a flat map is all zeros)."""
    m = F.interpolate(m.detach().float()[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]
    return stretch(m).numpy()


# ------------------------------------------------------------------------------------------------- the CNN's maps

def _feature_layer(net: torch.nn.Module, x: torch.Tensor) -> str:
    """Name of the last module whose output is the final [B, C, h, w] feature map (before global pooling)."""
    name = locate_candidate_layer(net, tuple(x.shape[1:]))
    if name is None:
        raise ExplainError("error.explain.no_feature_map", model=type(net).__name__)
    return name


def _cnn_maps(net: torch.nn.Module, x: torch.Tensor, class_idx: int) -> dict[str, torch.Tensor]:
    fc = net.get_classifier() if hasattr(net, "get_classifier") else None
    pool = getattr(getattr(net, "global_pool", None), "pool_type", "avg")
    layer = _feature_layer(net, x)
    maps = {}
    with GradCAM(net, layer) as extractor:
        scores = net(x.clone().requires_grad_(True))
        maps["gradcam"] = extractor(class_idx, scores)[0][0]
    if isinstance(fc, torch.nn.Linear) and pool in ("avg", "fast"):
        with CAM(net, layer, fc_layer=fc) as extractor, torch.no_grad():
            scores = net(x)
            maps["cam"] = extractor(class_idx, scores)[0][0]
    return maps


# ------------------------------------------------------------------------------------------------- the ViT's maps

def _vit_maps(net: torch.nn.Module, x: torch.Tensor, class_idx: int) -> dict[str, torch.Tensor]:
    geo = att.vit_geometry(net, tuple(x.shape[-2:]))
    p, (gh, gw) = geo.num_prefix_tokens, geo.grid_size
    if p == 0:
        raise ExplainError("error.explain.no_class_token", model=type(net).__name__)
    attns: list[torch.Tensor] = []
    hooks = []
    for blk in net.blocks:
        if not hasattr(blk, "attn") or not hasattr(blk.attn, "attn_drop"):
            raise ExplainError("error.explain.unknown_block", block=type(blk).__name__)
        blk.attn.fused_attn = False  # the shadow's own flag: its softmax now runs in the open, through attn_drop
        hooks.append(blk.attn.attn_drop.register_forward_hook(lambda _m, _i, out: attns.append(out)))

    def tokens_to_grid(t: torch.Tensor) -> torch.Tensor:  # [B, N, C] -> [B, C, gh, gw], prefix tokens dropped
        return t[:, p:].transpose(1, 2).reshape(t.shape[0], t.shape[2], gh, gw)

    try:
        with GradCAM(net, net.blocks[-1].norm1, reshape_transform=tokens_to_grid) as extractor:
            scores = net(x.clone().requires_grad_(True))
            gradcam = extractor(class_idx, scores, retain_graph=True)[0][0]
        if len(attns) != len(net.blocks):
            raise ExplainError("error.explain.unknown_block", block=type(net.blocks[0]).__name__)
        grads = torch.autograd.grad(scores[0, class_idx], attns)
    finally:
        for h in hooks:
            h.remove()
    a = torch.stack([t.detach()[0] for t in attns])  # [L, H, N, N]
    g = torch.stack([t[0] for t in grads])
    n = a.shape[-1]
    relevance = torch.eye(n)
    for layer in range(len(a)):  # Chefer et al. 2021, eq. 5-6: gradient-weighted, positive part, mean over heads
        relevance = relevance + (g[layer] * a[layer]).clamp(min=0).mean(0) @ relevance
    grid = lambda row: row[p:].reshape(gh, gw)  # noqa: E731  (the class token's row over the patches)
    return {"attention": grid(a[-1].mean(0)[0]), "rollout": grid(att.rollout(a, num_prefix_tokens=p)[0]),
            "gradcam": gradcam, "relevance": grid(relevance[0])}


# ------------------------------------------------------------------------------------------------- all together

def explain(lm: LoadedModel, img: torch.Tensor, class_idx: int | None = None) -> Explanation:
    """Every map of this model's kind for `class_idx` (default: the top class) of `img` ([3, H, W] in [0, 1])."""
    x = lm.preprocess(img)
    with torch.inference_mode():
        probs = lm.net(x).softmax(-1)[0]
    cls = int(probs.argmax()) if class_idx is None else int(class_idx)
    if not 0 <= cls < probs.numel():
        raise ExplainError("error.explain.bad_class", index=cls, last=probs.numel() - 1)
    net = shadow(lm.net)
    with torch.inference_mode(False), torch.enable_grad():  # even when a caller computes in inference mode
        raw = _vit_maps(net, x, cls) if att.is_vit(lm.net) else _cnn_maps(net, x, cls)
    methods = [m for m in methods_for(lm) if m in raw]
    size = tuple(x.shape[-2:])
    return Explanation(lm.name, cls, probs.numpy(), {m: stretched(raw[m], size) for m in methods},
                       {m: stretched(raw[m], tuple(raw[m].shape[-2:])) for m in methods})
