"""Benchmark core.attention: forward + every attention map + rollout, and mean attention distance over a batch.

usage: python -m bench.bench_attention        (prints a table, writes bench/attention.json)
Goals: embedded ViT < 50 ms; timm vit_tiny_patch16_224 (random weights) at 224 < 400 ms;
mean attention distance over 32 images with vit_tiny < 10 s.
"""
from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import timm
import torch

from core import attention as att
from core import models

OUT = Path(__file__).with_name("attention.json")


def _median_ms(fn, repeats: int = 15, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def _embedded_vit():
    try:
        return models.load_model("vit").net, "embedded weights"
    except models.ModelError:
        torch.manual_seed(0)
        return models.build_embedded("vit").eval(), "random weights (embedded weights missing)"


def main() -> None:
    torch.manual_seed(0)
    rows = []
    embedded, note = _embedded_vit()
    tiny = timm.create_model("vit_tiny_patch16_224", pretrained=False).eval()
    for name, net, size, goal, weights in [("embedded vit", embedded, 64, 50, note),
                                           ("vit_tiny_patch16_224", tiny, 224, 400, "random weights")]:
        x = torch.rand(1, 3, size, size)
        geo = att.vit_geometry(net)

        def full():
            attn, _ = att.attention_and_logits(net, x)
            att.rollout(attn[0], "mean", 0.0, geo.num_prefix_tokens)

        with torch.inference_mode():
            plain = _median_ms(lambda: net(x))
        ms = _median_ms(full)
        rows.append({"case": f"{name}: forward + all attention maps + rollout", "input": f"1x3x{size}x{size}",
                     "weights": weights, "ms": round(ms, 1), "plain_forward_ms": round(plain, 1),
                     "goal_ms": goal, "ok": ms < goal})

    batch = torch.rand(32, 3, 224, 224)
    t = time.perf_counter()
    dist = att.attention_distance_over(tiny, batch, chunk=8)
    ms = (time.perf_counter() - t) * 1000
    rows.append({"case": "vit_tiny_patch16_224: mean attention distance over 32 images", "input": "32x3x224x224",
                 "weights": "random weights", "ms": round(ms, 1), "plain_forward_ms": None, "goal_ms": 10_000,
                 "ok": ms < 10_000 and dist.shape == (12, 3)})

    print(f"{'case':66} {'ms':>9} {'plain fwd':>10} {'goal':>8}  ok")
    for r in rows:
        plain = "" if r["plain_forward_ms"] is None else f"{r['plain_forward_ms']:.1f}"
        print(f"{r['case']:66} {r['ms']:9.1f} {plain:>10} {r['goal_ms']:8d}  {'yes' if r['ok'] else 'NO'}")
    info = {"torch": torch.__version__, "timm": timm.__version__, "threads": torch.get_num_threads()}
    OUT.write_text(json.dumps({"env": info, "results": rows}, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
