"""One measurement per inductive bias the article names, for any timm CNN or ViT.

- Locality: the effective receptive field of a CNN stage (Luo et al. 2016), `effective_receptive_field`, and the
  radius holding a share of a map's mass, `mass_radius`; both models' maps (`cnn_locality`, `vit_locality`) are
  taken at the centre of their grid (`centre_cells`) and their radii measured around the image's centre.
- Weight sharing: parameter counts from the formulas (`conv_params`, `locally_connected_params`, `dense_params`,
  `vit_block_params`, with a ViT's widths from `vit_widths`) and a model's parameters by part (`params_by_part`).
- Hierarchy: linear CKA between two layers' representations (Kornblith et al. 2019), `linear_cka`.
- Patches and position embeddings: `shuffle_patches`, `drop_patches` (blacked out, for any model) and
  `vit_logits` (a ViT's forward with tokens removed, or its position embeddings zeroed or permuted).

Each measurement takes one model (CKA: two layers' features of the same images). The bias page's comparisons of a
CNN with a ViT, built from these, are in core.bias_pairs; the page's sentences about them in core.biases_reading.
The bias page and the tour measure on `probe()`, held-out shape images of their own seed.
"""
from __future__ import annotations

import copy

import torch

from core import shapes
from core.attention import attention_maps, is_vit, rollout, vit_geometry
from core.messages import Explained

PROBE_SEED, PROBE_IMAGES, ERF_IMAGES = 60_606, 128, 16


def probe() -> tuple[torch.Tensor, torch.Tensor]:
    """Held-out full-frame shape images (their own seed) and their labels: [0, 1] pixels."""
    images, labels, _ = shapes.make_dataset(PROBE_IMAGES, PROBE_SEED, "full")
    return images, labels


class BiasError(Explained, ValueError):
    """A model that this measurement cannot be made on (locales: error.bias.*)."""


# --- locality ----------------------------------------------------------------------------------------------------------
RESNET_STAGES = ("stem", "layer1", "layer2", "layer3", "layer4")


def is_resnet(net: torch.nn.Module) -> bool:
    """A timm ResNet, whose stages stage_output can reach one by one."""
    return all(hasattr(net, n) for n in ("conv1", "bn1", "act1", "maxpool", "layer1"))


def resnet_stem(net: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """A timm ResNet's stem: conv, norm, activation, max-pool (stage 0)."""
    return net.maxpool(net.act1(net.bn1(net.conv1(images))))


def stage_output(net: torch.nn.Module, stage: int | None, images: torch.Tensor) -> torch.Tensor:
    """The feature map of a timm ResNet after `stage` (0: the stem, conv + norm + act + max-pool; 1..4: layer1..4;
    None: the last); for any other CNN with `forward_features`, stage is ignored and the last feature map is returned
    (cnn_locality then measures that map once, not once per stage number)."""
    if is_resnet(net) and stage is not None:
        if not 0 <= stage < len(RESNET_STAGES):
            raise BiasError("error.bias.stage", stage=stage, stages=len(RESNET_STAGES) - 1)
        x = resnet_stem(net, images)
        for name in RESNET_STAGES[1:stage + 1]:
            x = getattr(net, name)(x)
        return x
    if not hasattr(net, "forward_features"):
        raise BiasError("error.bias.no_features", model=type(net).__name__)
    x = net.forward_features(images)
    if x.ndim != 4:
        raise BiasError("error.bias.no_feature_map", model=type(net).__name__)
    return x


def centre_cells(h: int, w: int) -> tuple[slice, slice]:
    """The rows and columns of an h x w map's middle: the middle row (column) of an odd size, the middle two of an
    even one; so the middle of an even-sized map is its four central cells."""
    def middle(n: int) -> slice:
        return slice(n // 2, n // 2 + 1) if n % 2 else slice(n // 2 - 1, n // 2 + 1)
    return middle(h), middle(w)


def image_centre(h: int, w: int) -> tuple[float, float]:
    """The centre (row, col) of an h x w image in pixel coordinates (pixel i spans i - 0.5 .. i + 0.5)."""
    return (h - 1) / 2, (w - 1) / 2


CENTRE_TIE_PX = 0.5  # central cells whose gradients' centres of mass lie this close to the nearest one's are averaged


def effective_receptive_field(net: torch.nn.Module, stage: int, images: torch.Tensor) -> torch.Tensor:
    """Luo et al.'s effective receptive field of `stage`'s centre: |d/d input| of the sum over channels at the
    centre of that stage's output, summed over colour channels, averaged over `images` (already normalised for
    `net`); [H, W], summing to 1. Batch norm runs in eval mode.

    The centre: of the map's middle cells (`centre_cells`: the centre cell of an odd-sized map, the four central
    cells of an even-sized one), those whose gradient's centre of mass lies nearest the image's centre, their maps
    averaged when tied (within CENTRE_TIE_PX). On a network whose grid is symmetric about the image, the four
    central cells tie and the ERF is their mean; timm's ResNet is not: each stride-2 layer's output cell j sits over
    input 2j, so on a 64-px canvas cell (h/2, w/2) of every stage sits over pixel 32, half a pixel from the image's
    centre, and the other three central cells a whole stride up, left or both (the cell at ((h-1)//2, (w-1)//2) of
    the 2 x 2 last map sits over the top-left corner)."""
    was = net.training
    net.eval()
    x = images.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        out = stage_output(net, stage, x)
        rows, cols = centre_cells(*out.shape[-2:])
        cells = [(r, c) for r in range(out.shape[-2])[rows] for c in range(out.shape[-1])[cols]]
        grads = [torch.autograd.grad(out[:, :, r, c].sum(), x, retain_graph=i < len(cells) - 1)[0].abs().sum(1)
                 .mean(0).double() for i, (r, c) in enumerate(cells)]
    net.train(was)
    centre = torch.tensor(image_centre(*x.shape[-2:]), dtype=torch.float64)
    off = torch.stack([torch.hypot(*(torch.tensor(centroid(g), dtype=torch.float64) - centre)) for g in grads])
    erf = torch.stack([g / g.sum().clamp_min(1e-30) for g, d in zip(grads, off) if d <= off.min() + CENTRE_TIE_PX]
                      ).mean(0).to(images.dtype)
    return erf / erf.sum().clamp_min(1e-30)


def mass_radius(weights: torch.Tensor, centre: tuple[float, float], share: float) -> float:
    """The smallest radius (px, Euclidean from `centre` = (row, col)) of a disc holding `share` of a non-negative
    map's mass."""
    h, w = weights.shape
    rows, cols = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64),
                                indexing="ij")
    d = torch.hypot(rows - centre[0], cols - centre[1]).flatten()
    order = torch.argsort(d)
    mass = weights.double().flatten()[order].cumsum(0)
    i = int(torch.searchsorted(mass, share * mass[-1]))
    return float(d[order][min(i, len(d) - 1)])


def centre_radii(weights: torch.Tensor) -> tuple[float, float]:
    """The radii (px) holding 50 % and 90 % of a map's mass around the image's centre (`image_centre`): the one
    measurement of locality for a CNN's ERF and a ViT's attention alike."""
    c = image_centre(*weights.shape)
    return mass_radius(weights, c, 0.5), mass_radius(weights, c, 0.9)


# --- weight sharing ------------------------------------------------------------------------------------------------------
def conv_params(c_in: int, c_out: int, k: int, bias: bool = True) -> int:
    """A k x k convolution: one filter bank shared by every position."""
    return c_out * c_in * k * k + (c_out if bias else 0)


def locally_connected_params(c_in: int, c_out: int, k: int, h_out: int, w_out: int, bias: bool = True) -> int:
    """The same k x k window without sharing: a filter bank (and bias) of its own at each of h_out x w_out positions."""
    return h_out * w_out * conv_params(c_in, c_out, k, bias)


def dense_params(n_in: int, n_out: int, bias: bool = True) -> int:
    """Fully connected: every input value to every output value."""
    return n_in * n_out + (n_out if bias else 0)


def sharing_counts(vit_dim: int | None = None, vit_hidden: int | None = None) -> dict[str, int]:
    """One layer from the 64x64x3 canvas to 16 channels (same-size output), three ways, from the formulas; and, given
    a ViT's width and MLP width, one block of that ViT (`vit_block`)."""
    h = w = shapes.CANVAS
    counts = {"conv": conv_params(3, 16, 3), "local": locally_connected_params(3, 16, 3, h, w),
              "dense": dense_params(3 * h * w, 16 * h * w)}
    if vit_dim is not None:
        counts["vit_block"] = vit_block_params(vit_dim, vit_hidden)
    return counts


def vit_block_params(dim: int, mlp_hidden: int) -> int:
    """One pre-norm transformer block of timm's VisionTransformer: two LayerNorms (2 x 2d), attention (qkv 3d^2 + 3d,
    projection d^2 + d) and the MLP (d x hidden + hidden, hidden x d + d)."""
    return 2 * 2 * dim + (3 * dim * dim + 3 * dim) + (dim * dim + dim) + (2 * dim * mlp_hidden + mlp_hidden + dim)


def vit_widths(net: torch.nn.Module) -> tuple[int, int]:
    """A timm ViT's token width and its blocks' MLP width (all its blocks share them)."""
    if not is_vit(net):
        raise BiasError("error.bias.not_vit", model=type(net).__name__)
    return net.embed_dim, net.blocks[0].mlp.fc1.out_features


def params_by_part(net: torch.nn.Module) -> dict[str, int]:
    """Parameters of a timm ResNet (stem, layer1..4, head) or VisionTransformer (patch embedding, position embedding,
    class token, attention, MLP, norms, head), summing to the model's total."""
    parts: dict[str, int] = {}

    def add(part, p):
        parts[part] = parts.get(part, 0) + p.numel()

    for name, p in net.named_parameters():
        if is_vit(net):
            part = ("patch_embed" if name.startswith("patch_embed") else "pos_embed" if name == "pos_embed" else
                    "cls_token" if name in ("cls_token", "reg_token") else "head" if name.startswith("head") else
                    "attention" if ".attn." in name else "mlp" if ".mlp." in name else "norms")
        else:
            top = name.split(".")[0]
            part = ("stem" if top in ("conv1", "bn1") else top if top.startswith("layer") else
                    "head" if top in ("fc", "head", "classifier") else "other")
        add(part, p)
    return parts


# --- hierarchy -----------------------------------------------------------------------------------------------------------
def linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear CKA (Kornblith et al. 2019) between x [n, d1] and y [n, d2], the same n examples in the same order:
    ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F) with the features centred over the examples. 1 for y = x Q
    (Q orthogonal) or y = a x; invariant to isotropic scaling, not to arbitrary invertible maps."""
    if x.ndim != 2 or y.ndim != 2 or len(x) != len(y):
        raise ValueError(f"linear_cka needs [n, d1] and [n, d2] with the same n, not {tuple(x.shape)} and "
                         f"{tuple(y.shape)}")
    x = x.double() - x.double().mean(0)
    y = y.double() - y.double().mean(0)
    if min(x.shape[1], y.shape[1]) > len(x):  # wide features: the same number from the n x n Gram matrices
        k, l_ = x @ x.T, y @ y.T
        return float((k * l_).sum() / (torch.linalg.matrix_norm(k) * torch.linalg.matrix_norm(l_)).clamp_min(1e-300))
    cross = (y.T @ x).square().sum()
    norm = torch.linalg.matrix_norm(x.T @ x) * torch.linalg.matrix_norm(y.T @ y)
    return float(cross / norm.clamp_min(1e-300))


# --- patches and position embeddings ----------------------------------------------------------------------------------
def _tiles(images: torch.Tensor, grid: int) -> tuple[torch.Tensor, int, int]:
    b, c, h, w = images.shape
    if h % grid or w % grid:
        raise BiasError("error.bias.grid", grid=grid, height=h, width=w)
    th, tw = h // grid, w // grid
    tiles = images.reshape(b, c, grid, th, grid, tw).permute(0, 2, 4, 1, 3, 5).reshape(b, grid * grid, c, th, tw)
    return tiles, th, tw


def _untile(tiles: torch.Tensor, grid: int) -> torch.Tensor:
    b, _, c, th, tw = tiles.shape
    return tiles.reshape(b, grid, grid, c, th, tw).permute(0, 3, 1, 4, 2, 5).reshape(b, c, grid * th, grid * tw)


def shuffle_patches(images: torch.Tensor, grid: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """images [B, C, H, W] cut into grid x grid tiles, each image's tiles in its own random order."""
    tiles, _, _ = _tiles(images, grid)
    order = torch.stack([torch.randperm(grid * grid, generator=generator) for _ in range(len(images))])
    return _untile(tiles[torch.arange(len(images))[:, None], order], grid)


def patches_to_drop(count: int, fraction: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random choice of round(fraction x count) of `count` patches (indices, sorted)."""
    k = int(round(fraction * count))
    return torch.sort(torch.randperm(count, generator=generator)[:k]).values


def drop_patches(images: torch.Tensor, grid: int, dropped: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
    """images with the patches `dropped` (indices in reading order on a grid x grid tiling) set to `fill`: how a
    CNN sees a dropped patch (blacked out, in pixel space before normalisation)."""
    tiles, _, _ = _tiles(images.clone(), grid)
    tiles[:, dropped] = fill
    return _untile(tiles, grid)


def vit_logits(net: torch.nn.Module, x: torch.Tensor, keep: torch.Tensor | None = None, pos: str = "learnt",
               generator: torch.Generator | None = None) -> torch.Tensor:
    """A timm ViT's logits for normalised images x, computed block by block so that tokens can be removed and the
    position embeddings changed: `keep` (patch indices) drops every other patch token, as a ViT can where a CNN
    cannot; `pos` is "learnt" (as trained), "zero" (no position information) or "permuted" (each patch given
    another patch's embedding, one random permutation). Equals `net(x)` for keep=None, pos="learnt"."""
    if not is_vit(net):
        raise BiasError("error.bias.not_vit", model=type(net).__name__)
    geo = vit_geometry(net)
    if geo.num_prefix_tokens != 1 or getattr(net, "no_embed_class", False) or net.pos_embed is None:
        raise BiasError("error.bias.vit_layout", model=type(net).__name__)
    if pos not in ("learnt", "zero", "permuted"):
        raise ValueError(f"pos must be learnt, zero or permuted, not {pos!r}")
    tokens = net.patch_embed(x)  # [B, N, D]
    pe = net.pos_embed
    if pos == "zero":
        pe = torch.zeros_like(pe)
    elif pos == "permuted":
        perm = torch.randperm(geo.num_patches, generator=generator)
        pe = torch.cat([pe[:, :1], pe[:, 1:][:, perm]], 1)
    tokens = torch.cat([net.cls_token.expand(len(x), -1, -1), tokens], 1) + pe
    if keep is not None:
        tokens = torch.cat([tokens[:, :1], tokens[:, 1:][:, keep]], 1)
    tokens = net.norm_pre(net.pos_drop(tokens))
    tokens = net.norm(net.blocks(tokens))
    return net.forward_head(tokens)


# --- each bias measured on one model, as a whole -----------------------------------------------------------------------
def untrained_copy(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """The same architecture with freshly initialised weights: what is built in, before any data."""
    torch.manual_seed(seed)
    fresh = copy.deepcopy(net)
    for m in fresh.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
    for name in ("pos_embed", "cls_token"):  # timm's ViT initialisation of its own parameters
        p = getattr(fresh, name, None)
        if isinstance(p, torch.nn.Parameter):
            with torch.no_grad():
                torch.nn.init.trunc_normal_(p, std=0.02)
    return fresh.eval()


def centroid(weights: torch.Tensor) -> tuple[float, float]:
    h, w = weights.shape
    total = weights.sum().clamp_min(1e-30)
    rows = (weights.sum(1) * torch.arange(h, dtype=weights.dtype)).sum() / total
    cols = (weights.sum(0) * torch.arange(w, dtype=weights.dtype)).sum() / total
    return float(rows), float(cols)


def cnn_locality(net: torch.nn.Module, images: torch.Tensor, stages=None) -> list[dict]:
    """Per stage: the ERF map, the box where the gradient is not exactly zero (the theoretical receptive field,
    clipped to the image), its centre of mass and the radii holding 50 % and 90 % of the ERF's mass around the
    image's centre (`centre_radii`, as for the ViT). By default every stage of a timm ResNet, and for any other CNN
    its last feature map alone (stage None)."""
    if stages is None:
        stages = range(len(RESNET_STAGES)) if is_resnet(net) else (None,)
    out = []
    for s in stages:
        erf = effective_receptive_field(net, s, images).double()
        support = (erf > 0).nonzero()
        r50, r90 = centre_radii(erf)
        out.append({"stage": s, "erf": erf.float(), "support": tuple(int(v) for v in (*support.min(0).values,
                                                                                       *support.max(0).values)),
                    "centroid": centroid(erf), "r50": r50, "r90": r90})
    return out


@torch.no_grad()
def vit_locality(net: torch.nn.Module, images: torch.Tensor) -> list[dict]:
    """Per layer: where the centre's attention goes (mean over heads and images), as a map on the patch grid
    upsampled to pixels, and the radii (px, around the image's centre: `centre_radii`, as for the CNN) holding 50 %
    and 90 % of it; the same for attention rollout up to that layer. The centre is `centre_cells` of the patch grid,
    as for a CNN's map: the centre patch of an odd grid, the mean of the four central patches' attention on an even
    one. Prefix tokens' share is left out and the patch map renormalised."""
    geo = vit_geometry(net, images.shape[-2:])
    (gh, gw), (ph, pw), p = geo.grid_size, geo.patch_size, geo.num_prefix_tokens
    rows, cols = centre_cells(gh, gw)
    queries = torch.tensor([p + r * gw + c for r in range(gh)[rows] for c in range(gw)[cols]])
    attn = attention_maps(net, images).double().mean(0)  # [L, H, N, N]
    out = []
    for layer in range(attn.shape[0]):
        maps = {"attention": attn[layer].mean(0)[queries, p:].mean(0),
                "rollout": rollout(attn[:layer + 1])[queries, p:].mean(0)}
        row = {"layer": layer + 1}
        for kind, m in maps.items():
            grid = (m / m.sum()).reshape(gh, gw)
            px = grid.repeat_interleave(ph, 0).repeat_interleave(pw, 1) / (ph * pw)
            row[kind] = px.float()
            row[f"{kind}_r50"], row[f"{kind}_r90"] = centre_radii(px)
        out.append(row)
    return out


def _stage_features(net, images) -> list[torch.Tensor]:
    if not all(hasattr(net, n) for n in RESNET_STAGES[1:]):
        return [stage_output(net, 0, images).flatten(1)]  # another CNN: its last feature map only
    x = resnet_stem(net, images)
    feats = [x.flatten(1)]
    for name in RESNET_STAGES[1:]:
        x = getattr(net, name)(x)
        feats.append(x.flatten(1))
    return feats


@torch.no_grad()
def layer_features(net: torch.nn.Module, images: torch.Tensor) -> list[torch.Tensor]:
    """Each layer's representation, flattened per image: a ResNet's stage outputs; a ViT's token sequence after
    each block."""
    if not is_vit(net):
        return _stage_features(net, images)
    x = net.norm_pre(net._pos_embed(net.patch_embed(images)))
    feats = []
    for blk in net.blocks:
        x = blk(x)
        feats.append(x.flatten(1))
    return feats


def cka_matrix(a: list[torch.Tensor], b: list[torch.Tensor]) -> torch.Tensor:
    """Linear CKA between every layer of `a` and every layer of `b` (features of the same n images), from each
    layer's centred n x n Gram matrix, computed once (the same number as `linear_cka` of each pair)."""
    def gram(x):
        x = x.double() - x.double().mean(0)
        k = x @ x.T
        return k / torch.linalg.matrix_norm(k).clamp_min(1e-300)

    ga, gb = torch.stack([gram(x) for x in a]), torch.stack([gram(y) for y in b])
    return torch.einsum("aij,bij->ab", ga, gb).float()


ORDER_FREE = 0.05  # accuracy within 5 points of the intact images' when the patches are shuffled: order is not used


@torch.no_grad()
def order_accuracy(predict, images: torch.Tensor, labels: torch.Tensor, grids=(2, 4, 8), seed: int = 0
                   ) -> dict[int, float]:
    """Accuracy of `predict(images) -> logits` on the images as they are (grid 1) and with their tiles shuffled on
    each grid of `grids`."""
    g = torch.Generator().manual_seed(seed)
    out = {1: float((predict(images).argmax(-1) == labels).double().mean())}
    for grid in grids:
        out[grid] = float((predict(shuffle_patches(images, grid, g)).argmax(-1) == labels).double().mean())
    return out
