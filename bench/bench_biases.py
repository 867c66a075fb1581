"""Benchmark the bias-by-bias page's measurements (core.biases) on the embedded CNN and ViT, uncached.

usage: python -m bench.bench_biases        (prints a table, writes bench/biases.json)
The page caches each section by the models' names and the warm-up computes the default pair at server start, so
a visitor's first view reads the cache; these are the costs of a new pair (a timm model picked), shown with a
spinner. Goal (issue #26): a section's default view within 300 ms, or precomputed and cached.
"""
from __future__ import annotations

import json
import platform
from pathlib import Path

import torch

from bench.bench_models import timed
from core import biases as bi
from core import shapes
from core.models import load_model

OUT = Path(__file__).with_name("biases.json")


def main() -> None:
    torch.set_num_threads(2)
    cnn, vit = load_model("cnn"), load_model("vit")
    images, labels, _ = shapes.make_dataset(128, 60_606, "full")
    xc, xv = cnn.preprocess(images), vit.preprocess(images)

    def order():
        with torch.inference_mode():
            for predict in (lambda x: cnn.net(cnn.preprocess(x)), lambda x: vit.net(vit.preprocess(x)),
                            lambda x: bi.vit_logits(vit.net, vit.preprocess(x), pos="zero")):
                bi.order_accuracy(predict, images, labels)

    cases = {
        "locality: ERF of 5 stages (16 images), ViT attention + rollout of 6 layers": lambda: (
            bi.cnn_locality(cnn.net, xc[:16]), bi.vit_locality(vit.net, xv[:16])),
        "weight sharing: formulas + parameters by part": lambda: (bi.params_by_part(cnn.net),
                                                                  bi.params_by_part(vit.net)),
        "hierarchy: features of 128 images, three CKA matrices": lambda: (
            lambda fc, fv: (bi.cka_matrix(fc, fv), bi.cka_matrix(fc, fc), bi.cka_matrix(fv, fv)))(
            bi.layer_features(cnn.net, xc), bi.layer_features(vit.net, xv)),
        "patches: 128 images x 4 orders x 3 model variants": order,
    }
    rows = []
    for case, fn in cases.items():
        r = timed(fn, repeat=3)
        rows.append({"case": case, "median_ms": round(r["median_ms"], 1), "best_ms": round(r["best_ms"], 1)})
        print(f"{case:<80} {r['median_ms']:8.1f} ms")
    OUT.write_text(json.dumps({"env": {"threads": torch.get_num_threads(), "machine": platform.machine(),
                                       "torch": torch.__version__}, "results": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
