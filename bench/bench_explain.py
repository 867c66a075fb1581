"""Benchmark core.explain: every map of the embedded CNN and ViT for one image, with both faithfulness curves.

usage: python -m bench.bench_explain        (prints a table, writes bench/explain.json)
Goal (issue #19): the embedded pair, all maps plus deletion and insertion curves, <= 300 ms on 2 cores.
Also timed: a timm ViT at 224 px (random weights: the same compute), which a visitor may pick.
"""
from __future__ import annotations

import json
import platform
from pathlib import Path

import timm
import torch

from bench.bench_models import timed
from core import explain, images, models

OUT = Path(__file__).with_name("explain.json")
GOAL_MS = 300.0


def _embedded(name: str) -> tuple[models.LoadedModel, str]:
    try:
        return models.load_model(name), "embedded weights"
    except models.ModelError:
        return models.load_model(name, pretrained=False), "random weights (embedded weights missing)"


def main() -> None:
    torch.set_num_threads(2)
    img = images.load_sample("star and cross (64×64)")
    (cnn, w1), (vit, w2) = _embedded("cnn"), _embedded("vit")
    rows = []
    for label, lms in (("embedded cnn + vit (the page's default)", (cnn, vit)), ("embedded cnn", (cnn,)),
                       ("embedded vit", (vit,))):
        r = timed(lambda: [explain.explain(lm, img) for lm in lms], repeat=9)
        med, best = r["median_ms"], r["best_ms"]
        maps = sum(len(explain.methods_for(lm)) for lm in lms)
        rows.append({"case": label, "maps": maps, "images_forwarded": maps * 2 * (explain.STEPS + 1),
                     "median_ms": round(med, 1), "best_ms": round(best, 1)})
    tiny = models.LoadedModel("timm:vit_tiny_patch16_224", timm.create_model("vit_tiny_patch16_224").eval(), "vit",
                              (224, 224), [str(i) for i in range(1000)], (0.5,) * 3, (0.5,) * 3, pretrained=False)
    r = timed(lambda: explain.explain(tiny, img), repeat=3, warmup=1)
    med, best = r["median_ms"], r["best_ms"]
    rows.append({"case": "timm vit_tiny_patch16_224 at 224 px (random weights)", "maps": 4,
                 "images_forwarded": 4 * 2 * (explain.STEPS + 1), "median_ms": round(med, 1), "best_ms": round(best, 1)})
    ok = rows[0]["median_ms"] <= GOAL_MS
    print(f"{'case':58} {'maps':>4} {'images':>6} {'median ms':>10} {'best ms':>8}")
    for r in rows:
        print(f"{r['case']:58} {r['maps']:>4} {r['images_forwarded']:>6} {r['median_ms']:>10.1f} {r['best_ms']:>8.1f}")
    print(f"goal: embedded pair <= {GOAL_MS:.0f} ms -> {'OK' if ok else 'MISSED'}")
    OUT.write_text(json.dumps({"env": {"torch": torch.__version__, "threads": torch.get_num_threads(),
                                       "machine": platform.machine(), "weights": [w1, w2]},
                               "goal_ms": GOAL_MS, "ok": ok, "results": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
