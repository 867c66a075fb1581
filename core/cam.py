"""Class activation maps (Zhou et al. 2016): where a CNN with global average pooling finds evidence for a class."""
from __future__ import annotations

import torch

from core.models import kind_of


class CAMError(ValueError):
    """This model has no class activation map; the message says why, fit to show a user."""


def class_activation_map(net: torch.nn.Module, x: torch.Tensor, class_idx: int | None = None
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """CAM (Zhou et al. 2016) of a CNN with global average pooling and a linear classifier.

    Returns (cam [B, h, w] for `class_idx` or each image's top class, logits [B, classes]). With average
    pooling, the mean of the map plus the class bias is exactly that class's logit.
    """
    fc = net.get_classifier() if hasattr(net, "get_classifier") else None
    if kind_of(net) == "vit" or not isinstance(fc, torch.nn.Linear) or not hasattr(net, "forward_features"):
        raise CAMError(f"class activation maps need a CNN with a linear classifier, not {type(net).__name__}")
    pool = getattr(getattr(net, "global_pool", None), "pool_type", "avg")
    if pool not in ("avg", "fast"):
        raise CAMError(f"class activation maps need global average pooling; this model uses {pool!r}")
    with torch.inference_mode():
        feats = net.forward_features(x)  # [B, C, h, w]
        if feats.dim() != 4 or feats.shape[1] != fc.in_features:
            raise CAMError(f"{type(net).__name__} does not end in a convolutional feature map, so it has no CAM")
        logits = net.forward_head(feats) if hasattr(net, "forward_head") else fc(feats.mean(dim=(2, 3)))
        cls = logits.argmax(dim=-1) if class_idx is None else torch.full((x.shape[0],), int(class_idx))
        cam = torch.einsum("bc,bchw->bhw", fc.weight[cls], feats)
    return cam, logits
