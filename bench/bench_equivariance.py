"""Benchmark of the equivariance page's compute (not a test).

    python bench/bench_equivariance.py [--repeat 15]

A 512x512 RGB image and a 7x7 kernel. Goals: one page update (convolution, both paths,
difference) under 50 ms; the error-vs-shift chart for all chains under 300 ms. Prints a table
(median and best of --repeat runs, at 1 torch thread and at the default count) and writes
bench/equivariance.json.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from core import equivariance as eq  # noqa: E402
from core.models import ModelError, load_model  # noqa: E402

GOALS_MS = {"page update": 50.0, "chart, all chains": 300.0}


def timed(fn, repeat: int) -> dict:
    fn()  # warm-up (allocator, oneDNN primitive cache)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return {"median_ms": statistics.median(times), "best_ms": min(times)}


def model_chains() -> tuple[list[eq.Chain], str]:
    try:
        return [eq.model_chain(load_model(n)) for n in ("cnn", "vit")], "embedded weights"
    except ModelError:  # same architectures with random weights: the same compute
        return ([eq.model_chain(load_model(n, pretrained=False)) for n in ("cnn", "vit")],
                "random weights (embedded weights missing)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:512, 0:512] / 512
    smooth = np.stack([np.sin(9 * xx + c) * np.cos(7 * yy - c) for c in range(3)]) * 0.4 + 0.5
    img = torch.tensor(np.clip(smooth + 0.1 * rng.normal(size=smooth.shape), 0, 1), dtype=torch.float32)
    kernel = rng.normal(size=(7, 7))
    chains = list(eq.basic_chains(kernel).values())
    models, model_note = model_chains()

    def chart(cs):
        return lambda: [eq.error_curve(c, img) for c in cs]

    rows = []
    default_threads = torch.get_num_threads()
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        cases = {
            "page update": lambda: eq.compare(img, kernel, 20, -13, "zeros"),
            "page update (circular)": lambda: eq.compare(img, kernel, 20, -13, "circular"),
            **{f"chart: {c.name}": chart([c]) for c in chains + models},
            "chart, hand-built chains": chart(chains),
            "chart, all chains": chart(chains + models),
        }
        for name, fn in cases.items():
            r = timed(fn, args.repeat)
            goal = GOALS_MS.get(name)
            rows.append({"case": name, "threads": threads, **r, "goal_ms": goal,
                         "ok": None if goal is None else r["median_ms"] <= goal})
    torch.set_num_threads(default_threads)

    print(f"512x512 RGB, 7x7 kernel, {args.repeat} runs; model chains: {model_note}")
    print(f"{'case':52s} {'threads':>7s} {'median ms':>10s} {'best ms':>8s} {'goal':>6s}")
    for r in rows:
        goal = "" if r["goal_ms"] is None else f"{r['goal_ms']:.0f} {'ok' if r['ok'] else 'SLOW'}"
        print(f"{r['case']:52s} {r['threads']:7d} {r['median_ms']:10.1f} {r['best_ms']:8.1f} {goal:>6s}")
    out = Path(__file__).with_name("equivariance.json")
    out.write_text(json.dumps({"image": [3, 512, 512], "kernel": [7, 7], "repeat": args.repeat,
                               "model_chains": model_note, "torch": torch.__version__,
                               "machine": platform.machine(), "cpu_threads_default": default_threads,
                               "results": rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
