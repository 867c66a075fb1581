"""The data-hunger grid's architectures as facts: each grid model's parameters, FLOPs per 64x64 image and last map
(architecture), and uniform attention's mean distance on the grid's ViT (the baseline of its
distance charts), written by `python -m core.experiments architectures` to core/results/grid_architectures.json.

The data page reads them from the file: building the six models for them (timm, then torch's FLOP counter) was
most of the page's first view on a fresh server. tests/test_architectures.py checks the file against the code.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from core.experiments import RESULTS
from core.experiments.hunger_results import ARCHS, MODELS, VARIANTS, kind

ARCHITECTURES_FILE = RESULTS / "grid_architectures.json"


def architecture(model: str) -> dict:
    """Parameters and FLOPs per 64x64 image on the model card's terms (core.train.flops_per_image), and the side of
    the last feature map (CNNs) or token grid (ViTs), of a grid model's architecture."""
    # torch and the modules that build models are imported where a model is built: load() needs neither
    import torch

    from core.models import build_embedded
    from core.train import flops_per_image

    with torch.random.fork_rng(devices=[]):
        net = build_embedded(MODELS[model]).eval()
    with torch.inference_mode():
        x = torch.zeros(1, 3, 64, 64)
        side = (net.forward_features(x).shape[-1] if kind(model) == "cnn" else net.patch_embed.grid_size[0])
    return {"parameters": sum(p.numel() for p in net.parameters()), "flops_per_image": flops_per_image(net),
            "last_map": int(side)}


def measure() -> dict:
    """The facts, from the architectures themselves (builds every grid model: torch and timm)."""
    from core import attention as att
    from core import shapes
    from core.models import build_embedded

    vit = build_embedded(MODELS["vit"], len(shapes.CLASSES))
    return {"models": {m: architecture(m) for m in (*ARCHS, *VARIANTS)},
            "vit_uniform_distance": att.uniform_distance_of(vit, (shapes.CANVAS, shapes.CANVAS))}


def load(path: Path | None = None) -> dict | None:
    """The shipped facts, or None where the file is absent."""
    path = ARCHITECTURES_FILE if path is None else path
    return json.loads(path.read_text()) if path.exists() else None


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m core.experiments architectures", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ARCHITECTURES_FILE)
    args = ap.parse_args(argv)
    facts = measure()
    args.out.write_text(json.dumps(facts, indent=1, sort_keys=True) + "\n")
    print(json.dumps(facts, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
