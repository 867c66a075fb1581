"""The data-hunger grid's architectures as facts: each grid model's parameters, FLOPs per 64x64 image and last map
(variants_reading.architecture), and uniform attention's mean distance on the grid's ViT (the baseline of its
distance charts), written by `python -m core.experiments architectures` to core/results/grid_architectures.json.

The data page reads them from the file: building the six models for them (timm, then torch's FLOP counter) was
most of the page's first view on a fresh server. tests/test_architectures.py checks the file against the code.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from core.experiments import RESULTS
from core.experiments.hunger_results import ARCHS, MODELS, VARIANTS

ARCHITECTURES_FILE = RESULTS / "grid_architectures.json"


def measure() -> dict:
    """The facts, from the architectures themselves (builds every grid model: torch and timm)."""
    from core import attention as att
    from core import shapes
    from core.models import build_embedded
    from core.experiments.variants_reading import architecture

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
