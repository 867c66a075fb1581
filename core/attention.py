"""What a Vision Transformer looks at: attention maps, rollout, attention distance, and the ViT paper's Fig. 7.

Everything here works on any timm `VisionTransformer` (the embedded ViT, DeiT with a distillation
token, models with register tokens, any grid size): the number of prefix tokens and the patch grid
are read from the model, never assumed.

`attention_maps` walks the model itself instead of attaching hooks or flipping the `fused_attn`
flags, so one model object can be shared by many sessions and threads at once: it only reads the
modules' weights, under `torch.inference_mode`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from core.messages import Explained, Message, say
from core.architectures import load_timm
from core.models import initialisation

# timm's classes are imported inside the functions that check a module's type: importing timm costs seconds, and the
# modules that import this one for its arithmetic (the tour, the data page's baselines) never need it


class AttentionError(Explained, ValueError):
    """The model or the input cannot be analysed this way; the message (locales: error.attention.*) is fit to show
    a user."""


# ---------------------------------------------------------------- geometry


@dataclass(frozen=True)
class ViTGeometry:
    grid_size: tuple[int, int]  # patches per column, per row: (rows, cols)
    patch_size: tuple[int, int]  # pixels (height, width)
    num_prefix_tokens: int  # class / distillation / register tokens before the patches
    prefix_names: tuple[str, ...]  # e.g. ("CLS",), ("CLS", "DIST"), ("CLS", "REG1", ...)
    depth: int
    num_heads: int

    @property
    def num_patches(self) -> int:
        return self.grid_size[0] * self.grid_size[1]

    @property
    def num_tokens(self) -> int:
        return self.num_prefix_tokens + self.num_patches

    def token_name(self, token: int) -> Message:
        """What a token is called: a prefix token by its name (CLS, DIST, REG1, ...), a patch by its number (1 =
        top-left, in reading order), row and column."""
        if token < self.num_prefix_tokens:
            return say("attention.token.prefix", name=self.prefix_names[token])
        r, c = divmod(token - self.num_prefix_tokens, self.grid_size[1])
        return say("attention.token.patch", patch=token - self.num_prefix_tokens + 1, row=r + 1, col=c + 1)


def is_vit(net: torch.nn.Module) -> bool:
    load_timm()
    from timm.models.vision_transformer import VisionTransformer
    return isinstance(net, VisionTransformer)


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def vit_geometry(net: torch.nn.Module, input_hw: tuple[int, int] | None = None) -> ViTGeometry:
    """Grid, patch size and prefix tokens of a timm ViT, read from the model.

    `input_hw` matters only for models built with `dynamic_img_size`, whose grid follows the input.
    """
    if not is_vit(net):
        raise AttentionError("error.attention.not_vit_geometry", model=type(net).__name__)
    pe = net.patch_embed
    patch = _pair(pe.patch_size)
    grid = _pair(pe.grid_size)
    if input_hw is not None and getattr(net, "dynamic_img_size", False):
        grid = (input_hw[0] // patch[0], input_hw[1] // patch[1])
    names = []
    if getattr(net, "cls_token", None) is not None:
        names.append("CLS")
    if getattr(net, "dist_token", None) is not None:
        names.append("DIST")
    names += [f"REG{i + 1}" for i in range(int(getattr(net, "num_reg_tokens", 0) or 0))]
    prefix = int(net.num_prefix_tokens)
    if len(names) != prefix:  # a subclass with tokens we do not know by name
        names = [f"PREFIX{i + 1}" for i in range(prefix)]
    first = net.blocks[0] if len(net.blocks) else None
    heads = int(getattr(getattr(first, "attn", first), "num_heads", 0) or 0)
    return ViTGeometry(grid, patch, prefix, tuple(names), len(net.blocks), heads)


# ---------------------------------------------------------------- attention maps


def _attention_input(blk: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The tokens the block's attention sees, or AttentionError for blocks we do not know."""
    load_timm()
    from timm.layers.attention import Attention
    from timm.models.vision_transformer import Block, ResPostBlock

    if type(blk) not in (Block, ResPostBlock) or type(blk.attn) is not Attention:
        raise AttentionError("error.attention.block", block=type(blk).__name__,
                             attention=type(getattr(blk, "attn", None)).__name__)
    return blk.norm1(x) if type(blk) is Block else x  # ResPostBlock normalises after attention


def _block_attention(attn_mod: torch.nn.Module, y: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T * scale) of one timm Attention module on tokens y [B, N, C] -> [B, H, N, N]."""
    B, N, _ = y.shape
    heads, head_dim = attn_mod.num_heads, attn_mod.head_dim
    qkv = attn_mod.qkv(y).reshape(B, N, 3, heads, head_dim).permute(2, 0, 3, 1, 4)
    q, k, _ = qkv.unbind(0)
    q, k = attn_mod.q_norm(q), attn_mod.k_norm(k)
    return ((q * attn_mod.scale) @ k.transpose(-2, -1)).float().softmax(dim=-1)


def attention_and_logits(net: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One forward pass: attention of every block [B, L, H, N, N] and the model's logits [B, classes].

    Thread-safe and hook-free: follows `VisionTransformer.forward_features` step by step and computes
    each block's softmax attention from the block's own modules, then runs the block unchanged.
    """
    if not is_vit(net):
        raise AttentionError("error.attention.not_vit", model=type(net).__name__)
    if x.dim() != 4:
        raise AttentionError("error.attention.input_shape", shape=tuple(x.shape))
    maps = []
    with torch.inference_mode():
        h = net.patch_embed(x)
        h = net._pos_embed(h)
        h = net.patch_drop(h)
        h = net.norm_pre(h)
        for blk in net.blocks:
            y = _attention_input(blk, h)
            maps.append(_block_attention(blk.attn, y))
            h = blk(h)
        logits = net.forward_head(net.norm(h))
    if not maps:
        raise AttentionError("error.attention.no_blocks")
    return torch.stack(maps, dim=1), logits


def attention_maps(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Softmax attention of every block of a timm VisionTransformer: [B, L, H, N, N], prefix tokens included."""
    return attention_and_logits(net, x)[0]


# ---------------------------------------------------------------- rollout and distance


def fuse_heads(attn: torch.Tensor, head_fusion: str = "mean") -> torch.Tensor:
    """[..., H, N, N] -> [..., N, N] by mean, max or min over heads."""
    if head_fusion == "mean":
        return attn.mean(dim=-3)
    if head_fusion == "max":
        return attn.amax(dim=-3)
    if head_fusion == "min":
        return attn.amin(dim=-3)
    raise AttentionError("error.attention.fusion", fusion=head_fusion)


def rollout(attn: torch.Tensor, head_fusion: str = "mean", discard_ratio: float = 0.0,
            num_prefix_tokens: int = 1) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema 2020): attn [L, H, N, N] (or [B, L, H, N, N]) -> [N, N] ([B, N, N]).

    Per layer: fuse the heads; zero the `discard_ratio` fraction of smallest entries, never one between
    two prefix tokens (the first `num_prefix_tokens`; the reference code keeps the CLS-to-CLS entry);
    add the identity for the residual connection; re-normalise rows. Then multiply the layers from the
    first to the last: row i of the result says how much output token i draws on each input token.
    """
    if attn.dim() not in (4, 5):
        raise AttentionError("error.attention.rollout_shape", shape=tuple(attn.shape))
    if not 0.0 <= discard_ratio < 1.0:
        raise AttentionError("error.attention.discard", ratio=discard_ratio)
    batched = attn.dim() == 5
    a = attn if batched else attn.unsqueeze(0)
    a = fuse_heads(a.float(), head_fusion)  # [B, L, N, N]
    B, L, N, _ = a.shape
    eye = torch.eye(N, dtype=a.dtype)
    keep = torch.ones(N, N, dtype=torch.bool)
    keep[:num_prefix_tokens, :num_prefix_tokens] = False  # never discarded
    joint = eye.expand(B, N, N).clone()
    for layer in range(L):
        fused = a[:, layer].clone()
        n_drop = int(discard_ratio * N * N)
        if n_drop:
            flat = fused.reshape(B, N * N)
            candidates = flat.masked_fill(~keep.reshape(-1), float("inf"))
            n_drop = min(n_drop, int(keep.sum()))
            idx = candidates.topk(n_drop, dim=-1, largest=False).indices
            flat.scatter_(1, idx, 0.0)
            fused = flat.reshape(B, N, N)
        step = (fused + eye) / 2
        step = step / step.sum(dim=-1, keepdim=True)
        joint = step @ joint
    return joint if batched else joint[0]


def patch_distances(grid_size, patch_size) -> torch.Tensor:
    """[P, P] pixel distance between the centres of every pair of patches (row-major order)."""
    gh, gw = _pair(grid_size)
    ph, pw = _pair(patch_size)
    rows, cols = torch.meshgrid(torch.arange(gh), torch.arange(gw), indexing="ij")
    pos = torch.stack([rows.reshape(-1) * ph, cols.reshape(-1) * pw], dim=1).double()
    return torch.cdist(pos, pos)


def mean_attention_distance(attn: torch.Tensor, grid_size, patch_size, num_prefix_tokens: int) -> torch.Tensor:
    """[B, L, H, N, N] (or [L, H, N, N]) attention -> [L, H] mean attention distance in pixels.

    For each query patch i: sum_j A_ij * distance(i, j) over patch keys j; prefix tokens dropped as
    queries and keys with no renormalisation; averaged over query patches and the batch.
    """
    a = attn if attn.dim() == 5 else attn.unsqueeze(0)
    gh, gw = _pair(grid_size)
    p = int(num_prefix_tokens)
    if a.dim() != 5 or a.shape[-1] != a.shape[-2] or a.shape[-1] != p + gh * gw:
        raise AttentionError("error.attention.distance_shape", shape=tuple(attn.shape), prefix=p, rows=gh, cols=gw)
    dist = patch_distances((gh, gw), patch_size).to(a.dtype)
    per_query = (a[..., p:, p:] * dist).sum(dim=-1)  # [B, L, H, P]
    return per_query.mean(dim=-1).mean(dim=0)


def uniform_attention_distance(grid_size, patch_size, num_prefix_tokens: int = 0) -> float:
    """The mean attention distance (px) of attention spread evenly over all tokens: the no-locality baseline.

    Each query gives weight 1/N to each of the N tokens; as in `mean_attention_distance`, the prefix tokens'
    share is dropped, not renormalised, so with a class token the value is P/(P+1) of the mean patch distance.
    """
    dist = patch_distances(grid_size, patch_size)
    return float(dist.sum(-1).mean() / (dist.shape[0] + int(num_prefix_tokens)))


def distance_reading(dist, uniform: float) -> Message:
    """What mean attention distances [L, H] (px) show against the uniform-attention baseline `uniform` (px): the
    baseline, the layers' means from the first layer to the last, and the range over all heads."""
    d = torch.as_tensor(dist, dtype=torch.float64)
    if d.dim() != 2 or d.numel() == 0:
        raise ValueError(f"expected mean attention distances [layers, heads], got shape {tuple(d.shape)}")
    per_layer = d.mean(dim=1)
    return say("attention.distance.reading", uniform=float(uniform), first=float(per_layer[0]),
               last=float(per_layer[-1]), layers=d.shape[0], low=float(d.min()), high=float(d.max()))


LOCAL_SHARE = 0.5  # a head (or a layer's mean) under half of uniform attention's distance attends locally
ALIKE_SHARE = 0.05  # first layers whose distances differ by less than this share of uniform attention's are alike


def comparison_reading(models: list[dict], layers: list[dict], uniform: float) -> Message:
    """What several ViTs of one architecture show side by side. `models`: {"model", "locality", "learnt_locality"}
    each; `layers`: {"model", "layer", "distance"} (px, mean over heads). Which first layer is most and least
    local against the uniform-attention baseline `uniform`, whether any is local at all (under LOCAL_SHARE of
    uniform), and whose position embeddings are most and least 2-D. First layers within ALIKE_SHARE of uniform
    attention of each other are called alike rather than ranked."""
    if not models:
        raise ValueError("no models to compare")
    first = {r["model"]: r["distance"] for r in layers if r["layer"] == 1}
    by_locality = sorted(models, key=lambda r: r["locality"])
    near, far = min(first, key=first.get), max(first, key=first.get)
    local = [m for m, d in first.items() if d < LOCAL_SHARE * uniform]
    spread = (say("attention.compare.first_alike", low=first[near], high=first[far])
              if first[far] - first[near] < ALIKE_SHARE * uniform else
              say("attention.compare.first_spread", near=near, near_px=first[near], far=far, far_px=first[far]))
    return say("attention.compare.reading", first=spread, uniform=float(uniform),
               local=say("attention.compare.local", models=", ".join(local)) if local else
               say("attention.compare.none_local", share=LOCAL_SHARE),
               most=by_locality[-1]["model"], most_loc=by_locality[-1]["locality"],
               most_learnt=by_locality[-1]["learnt_locality"], least=by_locality[0]["model"],
               least_loc=by_locality[0]["locality"], least_learnt=by_locality[0]["learnt_locality"])


def attention_distance_over(net: torch.nn.Module, batch: torch.Tensor, chunk: int = 8) -> torch.Tensor:
    """Mean attention distance [L, H] of a model over a (preprocessed) batch, in chunks to bound memory."""
    geo = vit_geometry(net, batch.shape[-2:])
    total, count = None, 0
    for start in range(0, len(batch), chunk):
        part = batch[start:start + chunk]
        d = mean_attention_distance(attention_maps(net, part), geo.grid_size, geo.patch_size,
                                    geo.num_prefix_tokens) * len(part)
        total = d if total is None else total + d
        count += len(part)
    return total / count


# ---------------------------------------------------------------- Fig. 7: embeddings


def pos_embed_similarity(net: torch.nn.Module, pos_embed: torch.Tensor | None = None) -> torch.Tensor:
    """Cosine similarity of each patch's position embedding with every other: [gh, gw, gh, gw].

    `sim[r, c]` is a map over the grid for the patch at row r, column c (ViT paper, Fig. 7 centre).
    `pos_embed` (shaped like `net.pos_embed`) is read instead of the net's own, e.g. what training added to it.
    """
    geo = vit_geometry(net)
    pe = getattr(net, "pos_embed", None) if pos_embed is None else pos_embed
    if pe is None:
        raise AttentionError("error.attention.no_pos_embed")
    gh, gw = geo.grid_size
    pe = pe.detach()[0].float()
    if pe.shape[0] not in (gh * gw, gh * gw + geo.num_prefix_tokens):
        raise AttentionError("error.attention.pos_embed_size", entries=pe.shape[0], rows=gh, cols=gw)
    patches = F.normalize(pe[-gh * gw:], dim=-1)
    return (patches @ patches.T).reshape(gh, gw, gh, gw)


def pos_embed_locality(net: torch.nn.Module, pos_embed: torch.Tensor | None = None) -> float:
    """How 2-D-local the position embeddings are, in [-1, 1]: the Pearson correlation between the cosine
    similarity of two patches' position embeddings and minus the grid distance between the patches, over every
    pair of distinct patches. Near +1: nearby patches get similar embeddings (ViT paper, Fig. 7 centre);
    near 0: no spatial structure (e.g. random embeddings). `pos_embed`: as in pos_embed_similarity."""
    sim = pos_embed_similarity(net, pos_embed)
    gh, gw = sim.shape[:2]
    dist = patch_distances((gh, gw), 1).float()
    pairs = torch.triu_indices(gh * gw, gh * gw, offset=1)
    s = sim.reshape(gh * gw, gh * gw)[pairs[0], pairs[1]]
    d = -dist[pairs[0], pairs[1]]
    return float(torch.corrcoef(torch.stack([s, d]))[0, 1])


def learnt_pos_embed_locality(net: torch.nn.Module, start: torch.nn.Module) -> float:
    """pos_embed_locality of what training added to the position embeddings: `net`'s minus those of `start`, the
    network it was trained from. The embeddings are not weight-decayed, so their random start (std 0.02) stays in
    the trained ones and can hide a learnt 2-D structure."""
    return pos_embed_locality(net, pos_embed=net.pos_embed.detach() - start.pos_embed.detach())



def trained_vit(lm) -> dict | None:
    """One embedded ViT (a loaded model) as the comparison of every ViT shows it: what it was trained on and its
    full-frame accuracy (its model card), its position embeddings' locality as trained and of what training added
    (against its initialisation, rebuilt from the card's seed); None for weights without a card (random stand-ins)."""
    card = lm.info
    if not card:
        return None
    start = initialisation(card["architecture"], int(card["recipe"]["torch_seed"]))
    return {"images": int(card["training_set"]["images"]), "augment_px": int(card["training_set"].get("augment_px", 0)),
            "region": card["training_set"]["region"], "accuracy": card["test_accuracy"]["full_frame"],
            "locality": pos_embed_locality(lm.net), "learnt_locality": learnt_pos_embed_locality(lm.net, start)}


def uniform_distance_of(net: torch.nn.Module, input_hw: tuple[int, int]) -> float:
    """Uniform attention's mean distance on a ViT's own geometry (the baseline every distance is read against)."""
    geo = vit_geometry(net, input_hw)
    return uniform_attention_distance(geo.grid_size, geo.patch_size, geo.num_prefix_tokens)


def vit_comparison(vits: dict) -> tuple[list[dict], list[dict], float, list[str]]:
    """Several trained ViTs side by side. `vits`: name -> (loaded model, its mean attention distance [L, H] over the
    same sample images), or None for a model that could not be loaded. Returns (one row per model with a card: its
    name and trained_vit's figures; one row per (model, layer): its distance averaged over heads, px; uniform
    attention's distance on their geometry (shared by the embedded ViTs: the last model's), nan if none; the models
    without a row, in order)."""
    rows, layers, missing, uniform = [], [], [], float("nan")
    for name, loaded in vits.items():
        row = trained_vit(loaded[0]) if loaded is not None else None
        if row is None:
            missing.append(name)
            continue
        lm, dist = loaded
        uniform = uniform_distance_of(lm.net, lm.input_size)
        rows.append({"model": name, **row})
        layers += [{"model": name, "layer": i + 1, "distance": float(d)}
                   for i, d in enumerate(torch.as_tensor(dist).mean(-1))]
    return rows, layers, uniform, missing


def patch_embed_pca(net: torch.nn.Module, k: int = 28) -> tuple[torch.Tensor, torch.Tensor]:
    """Principal components of the patch-embedding filters (ViT paper, Fig. 7 left).

    The filters are the rows of the patch projection, each a [3, ph, pw] patch; returns the first
    `k` (or as many as exist) unit-norm components [k, 3, ph, pw] and their explained-variance ratios [k].
    """
    vit_geometry(net)  # raises AttentionError for a model that is not a ViT
    proj = getattr(net.patch_embed, "proj", None)
    if not isinstance(proj, torch.nn.Conv2d):
        raise AttentionError("error.attention.not_conv")
    w = proj.weight.detach().double()  # [D, C, ph, pw]
    flat = w.reshape(w.shape[0], -1)
    centred = flat - flat.mean(dim=0, keepdim=True)
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)
    var = s ** 2
    k = min(k, flat.shape[0] - 1, flat.shape[1])  # centring leaves D - 1 directions
    ratio = var[:k] / var.sum().clamp_min(1e-30)
    return vh[:k].reshape(k, *w.shape[1:]).float(), ratio.float()


# ---------------------------------------------------------------- predictions and CNN comparison



# ---------------------------------------------------------------- display prep


def query_map(attn_layer: torch.Tensor, query: int, geo: ViTGeometry) -> torch.Tensor:
    """One query token's attention over the patch grid: [..., N, N] -> [..., gh, gw]."""
    p = geo.num_prefix_tokens
    return attn_layer[..., query, p:].reshape(*attn_layer.shape[:-2], *geo.grid_size)
