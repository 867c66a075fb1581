"""Why this class: class-specific saliency maps of a CNN and a ViT, and how faithful each map is.

CNN: CAM (Zhou et al. 2016) and Grad-CAM (Selvaraju et al. 2017), both from TorchCAM, on the last convolutional
feature map. ViT: the class token's attention in the last block, attention rollout (Abnar & Zuidema 2020), Grad-CAM
on the last block's token grid (TorchCAM, tokens reshaped to the patch grid), and gradient-weighted attention
relevance (Chefer et al. 2021, "Generic attention-model explainability": R <- R + mean_h[(dA * A)+] R per block).
TorchCAM's LeGrad needs torchvision's nn.MultiheadAttention blocks, so it cannot read a timm ViT.

Faithfulness (Petsiuk et al. 2018, RISE): delete the pixels in the order the map ranks them (replacing them with a
blurred copy of the image) and watch the class probability fall; or insert them into the blurred copy and watch it
rise. The areas under the curves say how well the map ranks the evidence the model actually uses: a low deletion
area and a high insertion area are faithful. Every perturbed image of every map goes through one forward pass.

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

from core import attention as att
from core.pictures import stretch
from core.messages import Explained, Message, listing, say
from core.models import LoadedModel

CNN_METHODS = ("cam", "gradcam")
VIT_METHODS = ("attention", "rollout", "gradcam", "relevance")
STEPS = 16  # points on each deletion / insertion curve after the first
CHUNK = 64  # perturbed images per forward pass: bounds the memory of a large timm model at 224 px


class ExplainError(Explained, ValueError):
    """This model cannot be explained this way (locales: error.explain.*)."""


@dataclass(frozen=True)
class Faithfulness:
    fractions: np.ndarray  # share of pixels deleted / inserted, 0..1
    deletion: np.ndarray  # class probability as the most salient pixels are removed
    insertion: np.ndarray  # class probability as they are put back into the blurred image
    deletion_auc: float  # lower is more faithful
    insertion_auc: float  # higher is more faithful


@dataclass(frozen=True)
class Explanation:
    model: str
    class_idx: int
    probs: np.ndarray  # [classes] of the unperturbed image
    maps: dict[str, np.ndarray]  # method -> [H, W] in [0, 1] at the model's input size
    native: dict[str, np.ndarray]  # method -> the map at its own size (feature map, patch grid), in [0, 1]
    faithfulness: dict[str, Faithfulness]


def methods_for(lm: LoadedModel) -> tuple[str, ...]:
    return VIT_METHODS if att.is_vit(lm.net) else CNN_METHODS


def shadow(net: torch.nn.Module) -> torch.nn.Module:
    """A copy of `net`'s modules sharing its parameters and buffers (no weights copied): hooks go here."""
    memo = {id(t): t for t in itertools.chain(net.parameters(), net.buffers())}
    return copy.deepcopy(net, memo)


def _normalise(m: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """A map [h, w] upsampled (bilinear) to `size` and scaled to [0, 1] (a flat map is all zeros)."""
    m = F.interpolate(m.detach().float()[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]
    return stretch(m).numpy()


# ------------------------------------------------------------------------------------------------- the CNN's maps

def _feature_layer(net: torch.nn.Module, x: torch.Tensor) -> str:
    """Name of the last module whose output is the final [B, C, h, w] feature map (before global pooling)."""
    from torchcam.methods._utils import locate_candidate_layer

    name = locate_candidate_layer(net, tuple(x.shape[1:]))
    if name is None:
        raise ExplainError("error.explain.no_feature_map", model=type(net).__name__)
    return name


def _cnn_maps(net: torch.nn.Module, x: torch.Tensor, class_idx: int) -> dict[str, torch.Tensor]:
    from torchcam.methods import CAM, GradCAM

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
    from torchcam.methods import GradCAM

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


# ------------------------------------------------------------------------------------------------- faithfulness

def blurred(x: torch.Tensor, sigma_frac: float = 0.08) -> torch.Tensor:
    """The baseline that deleted pixels become: the image under a Gaussian blur of sigma = 8 % of its side, which
    removes shapes and edges but keeps the colours (so that deletion does not add a new, sharp black shape)."""
    from torchvision.transforms.functional import gaussian_blur

    sigma = max(1.0, sigma_frac * max(x.shape[-2:]))
    k = int(2 * round(3 * sigma) + 1)
    return gaussian_blur(x, [min(k, 2 * (x.shape[-1] // 2) - 1), min(k, 2 * (x.shape[-2] // 2) - 1)], [sigma, sigma])


def perturbation_batch(x: torch.Tensor, saliency: np.ndarray, baseline: torch.Tensor, steps: int = STEPS
                       ) -> tuple[np.ndarray, torch.Tensor]:
    """(fractions [steps + 1], images [2 (steps + 1), C, H, W]): the deletion series, then the insertion series.

    Pixels are ranked by `saliency` (ties: the earlier pixel first); at fraction f the top f of them are deleted
    (set to the baseline) or inserted (taken from the image, the rest from the baseline)."""
    h, w = x.shape[-2:]
    n = h * w
    order = np.argsort(-saliency.reshape(-1), kind="stable")
    rank = torch.from_numpy(np.argsort(order, kind="stable").reshape(h, w))
    counts = np.round(np.linspace(0, n, steps + 1)).astype(int)
    chosen = torch.stack([rank < c for c in counts]).unsqueeze(1)  # [S, 1, H, W]: the top c pixels
    deletion = torch.where(chosen, baseline, x)
    insertion = torch.where(chosen, x, baseline)
    return counts / n, torch.cat([deletion, insertion])


def faithfulness(probabilities: torch.Tensor, fractions: np.ndarray) -> Faithfulness:
    """Curves and areas from the class probabilities of one perturbation_batch."""
    p = probabilities.detach().float().numpy()
    s = len(fractions)
    deletion, insertion = p[:s], p[s:]
    return Faithfulness(fractions, deletion, insertion, float(np.trapezoid(deletion, fractions)),
                        float(np.trapezoid(insertion, fractions)))


# ------------------------------------------------------------------------------------------------- all together

def explain(lm: LoadedModel, img: torch.Tensor, class_idx: int | None = None, steps: int = STEPS) -> Explanation:
    """Every map of this model's kind for `class_idx` (default: the top class) of `img` ([3, H, W] in [0, 1]),
    and each map's deletion and insertion curves (all perturbed images in one forward pass)."""
    x = lm.preprocess(img)
    with torch.inference_mode():
        probs = lm.net(x).softmax(-1)[0]
    cls = int(probs.argmax()) if class_idx is None else int(class_idx)
    if not 0 <= cls < probs.numel():
        raise ExplainError("error.explain.bad_class", index=cls, last=probs.numel() - 1)
    net = shadow(lm.net)
    with torch.inference_mode(False), torch.enable_grad():  # even when a caller computes in inference mode
        raw = _vit_maps(net, x, cls) if att.is_vit(lm.net) else _cnn_maps(net, x, cls)
    size = tuple(x.shape[-2:])
    maps = {m: _normalise(raw[m], size) for m in methods_for(lm) if m in raw}
    base = blurred(x)
    fractions, batches = None, []
    for m in maps:
        fractions, batch = perturbation_batch(x[0], maps[m], base[0], steps)
        batches.append(batch)
    batch = torch.cat(batches)
    with torch.inference_mode():
        p = torch.cat([lm.net(batch[i:i + CHUNK]).softmax(-1)[:, cls] for i in range(0, len(batch), CHUNK)])
    per = len(p) // len(maps)
    faith = {m: faithfulness(p[i * per:(i + 1) * per], fractions) for i, m in enumerate(maps)}
    native = {m: _normalise(raw[m], tuple(raw[m].shape[-2:])) for m in maps}
    return Explanation(lm.name, cls, probs.numpy(), maps, native, faith)


# ------------------------------------------------------------------------------------------------- what it says

def score(f: Faithfulness) -> float:
    """One number per map: insertion area minus deletion area (-1..1; higher is more faithful)."""
    return f.insertion_auc - f.deletion_auc


def reading(explanations: list[Explanation], tie: float = 0.005) -> list[Message]:
    """What the faithfulness numbers say: the most and the least faithful maps (maps whose scores differ by less
    than `tie`, the shown precision, are named together), and CAM and Grad-CAM agreeing where they must."""
    ranked = sorted(((score(f), e.model, m) for e in explanations for m, f in e.faithfulness.items()), reverse=True)
    if not ranked:
        return []

    def named(rows):
        return listing(say("explain.reading.map", model=model, method=say(f"explain.method.{method}"))
                       for _, model, method in rows)

    top, bottom = ranked[0][0], ranked[-1][0]
    if top - bottom < tie:
        out = [say("explain.reading.all_equal", score=top)]
    else:
        out = [say("explain.reading.best", maps=named(r for r in ranked if top - r[0] < tie), score=top),
               say("explain.reading.worst", maps=named(r for r in ranked if r[0] - bottom < tie), score=bottom)]
    for e in explanations:
        f = e.faithfulness
        if "cam" in f and "gradcam" in f and abs(score(f["cam"]) - score(f["gradcam"])) < tie:
            out.append(say("explain.reading.cam_is_gradcam", model=e.model))
    return out
