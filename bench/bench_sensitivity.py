"""Benchmark the sensitivity page's sweep (core.sensitivity.make_path / sweep).

usage: python -m bench.bench_sensitivity [--quick]     (prints a table; `python -m bench.run_all` keeps the numbers)

The page's default scene (ui/sensitivity_views.py, pages/sensitivity.py): a star of size 20, angle 0, colour
#ffd21e, on the noisy-gradient background with seed 7, horizontal path in 1-pixel steps across the 64-pixel
frame, models cnn + vit, the sweep's default chunk (sen.frames_per_chunk: 32 frames at 64x64). Figures:
- the default sweep's time (goal < 0.5 s) and the 2-D grid at 2-pixel steps (goal < 5 s);
- positions per second per model;
- overhead: sweep time / time of the bare batched forward pass (net(x) on the same, already composed and
  normalised frames), goal <= 1.15. The two are timed alternately and the ratio is of their best times, so
  a machine whose speed drifts (other processes, frequency) cannot fake or hide an overhead;
- speed-up over classifying the frames one by one;
- achieved GFLOP/s (FLOPs counted with torch.utils.flop_counter.FlopCounterMode) against the machine's
  float32 matmul rate.
Median of N timed runs after warm-up, at the app's torch thread count (ui/compute.py: $IBL_TORCH_THREADS,
default 1); the GFLOP/s are compared with the matmul rate at that same thread count.
"""
from __future__ import annotations

import argparse

import torch
from torch.utils.flop_counter import FlopCounterMode

from bench.bench_models import embedded_or_random, matmul_gflops, paired, timed, use_app_threads
from core import sensitivity as sen
from core import shapes

DEFAULT = {"shape": "star", "size": 20, "angle": 0, "colour": "#ffd21e", "background": "noisy gradient",
           "bg_seed": 7, "path": "horizontal", "step": 1, "canvas": 64, "models": ["cnn", "vit"]}
GOALS = {"default_sweep_ms": 500.0, "grid_sweep_ms": 5000.0, "overhead_ratio": 1.15}


def scene():
    rgb = tuple(int(DEFAULT["colour"][i:i + 2], 16) / 255 for i in (1, 3, 5))
    sprite = shapes.make_sprite(DEFAULT["shape"], DEFAULT["size"], DEFAULT["angle"], rgb)
    canvas = (DEFAULT["canvas"], DEFAULT["canvas"])
    background = sen.make_background(DEFAULT["background"], canvas, DEFAULT["bg_seed"])
    return sprite, background, canvas


def flops_per_image(net: torch.nn.Module, size: int = 64) -> int:
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        net(torch.zeros(1, 3, size, size))
    return int(counter.get_total_flops())


def main(quick: bool = False, matmul: dict | None = None) -> dict:
    use_app_threads()
    torch.manual_seed(0)
    rep = 5 if quick else 15
    loaded, notes = {}, {}
    for name in DEFAULT["models"]:
        loaded[name], notes[name] = embedded_or_random(name)
    sprite, background, canvas = scene()
    line = sen.make_path(DEFAULT["path"], sprite.shape, canvas, DEFAULT["step"])
    grid = sen.make_path("grid", sprite.shape, canvas, 2)
    chunk = sen.frames_per_chunk(*canvas)
    frames_line = shapes.composite(background, sprite, line.xs, line.ys)
    frames_grid = shapes.composite(background, sprite, grid.xs, grid.ys)
    flops = {n: flops_per_image(m.net) for n, m in loaded.items()}
    matmul = matmul or matmul_gflops(repeat=3 if quick else 5)

    def sweep(names, path):
        return lambda: sen.sweep({n: loaded[n] for n in names}, background, sprite, path, chunk=chunk)

    def bare(names, frames):
        xs = {n: loaded[n].preprocess(frames) for n in names}

        @torch.inference_mode()
        def run():
            for n in names:
                for start in range(0, len(frames), chunk):  # the same chunking as the sweep
                    loaded[n].net(xs[n][start:start + chunk])
        return run

    def one_by_one(names, path):
        @torch.inference_mode()
        def run():
            for i in range(len(path)):
                f = sen.frames(background, sprite, path, i)
                for n in names:
                    m = loaded[n]
                    m.net(m.preprocess(f)).softmax(-1)
        return run

    rows = []
    cases = [(f"{n} only", [n]) for n in loaded] + [("cnn + vit (the page's default)", list(loaded))]
    for case, names in cases:
        pair = paired(sweep(names, line), bare(names, frames_line), repeat=rep)
        s, b = pair["a"], pair["b"]
        loop = timed(one_by_one(names, line), repeat=3 if quick else 5, warmup=1)
        total_flops = sum(flops[n] for n in names) * len(line)
        rows.append({
            "case": case, "models": names, "path": "horizontal, 1-px steps", "positions": len(line),
            "sweep_ms": s["median_ms"], "sweep_best_ms": s["best_ms"], "bare_forward_ms": b["median_ms"],
            "bare_best_ms": b["best_ms"], "overhead_ratio": pair["ratio_best"],
            "overhead_ratio_paired_median": pair["ratio_paired_median"],
            "frame_by_frame_ms": loop["median_ms"],
            "speedup_vs_frame_by_frame": loop["median_ms"] / s["median_ms"],
            "positions_per_s": len(line) / (s["median_ms"] / 1e3),
            "gflop": total_flops / 1e9, "gflops_achieved": total_flops / (s["median_ms"] / 1e3) / 1e9,
        })
    names = list(loaded)
    pair = paired(sweep(names, grid), bare(names, frames_grid), repeat=3 if quick else 5, warmup=1)
    g, gb = pair["a"], pair["b"]
    total_flops = sum(flops[n] for n in names) * len(grid)
    rows.append({
        "case": "cnn + vit, 2-D grid", "models": names, "path": f"grid {grid.grid_shape[0]}x{grid.grid_shape[1]}, "
        "2-px steps", "positions": len(grid), "sweep_ms": g["median_ms"], "sweep_best_ms": g["best_ms"],
        "bare_forward_ms": gb["median_ms"], "bare_best_ms": gb["best_ms"], "overhead_ratio": pair["ratio_best"],
        "overhead_ratio_paired_median": pair["ratio_paired_median"],
        "frame_by_frame_ms": None, "speedup_vs_frame_by_frame": None,
        "positions_per_s": len(grid) / (g["median_ms"] / 1e3),
        "gflop": total_flops / 1e9, "gflops_achieved": total_flops / (g["median_ms"] / 1e3) / 1e9,
    })
    for r in rows:
        r["fraction_of_matmul_rate"] = r["gflops_achieved"] / matmul["best_gflops"]
        r["ok_overhead"] = r["overhead_ratio"] <= GOALS["overhead_ratio"]
    default = rows[len(loaded)]
    res = {"scene": DEFAULT, "weights": notes, "threads": torch.get_num_threads(),
           "flops_per_image": flops, "matmul": matmul, "rows": rows,
           "default_sweep_ms": default["sweep_ms"], "grid_sweep_ms": rows[-1]["sweep_ms"], "goals": GOALS,
           "ok_default": default["sweep_ms"] < GOALS["default_sweep_ms"],
           "ok_grid": rows[-1]["sweep_ms"] < GOALS["grid_sweep_ms"]}
    print_table(res)
    return res


def print_table(res: dict) -> None:
    print(f"sensitivity sweep: star 20 px on the noisy gradient (seed 7), {res['threads']} threads; "
          f"weights: {', '.join(f'{k}: {v}' for k, v in res['weights'].items())}")
    print(f"FLOPs per 64x64 image: {', '.join(f'{k} {v / 1e6:.1f} M' for k, v in res['flops_per_image'].items())}; "
          f"matmul ceiling {res['matmul']['best_gflops']:.1f} GFLOP/s at {res['matmul']['threads']} thread(s)")
    print(f"{'case':32} {'pos':>4} {'sweep ms':>9} {'bare ms':>8} {'ratio':>6} {'1-by-1 ms':>10} {'speed-up':>8} "
          f"{'pos/s':>7} {'GFLOP/s':>8} {'of mm':>6}")
    for r in res["rows"]:
        loop = "" if r["frame_by_frame_ms"] is None else f"{r['frame_by_frame_ms']:.1f}"
        sp = "" if r["speedup_vs_frame_by_frame"] is None else f"{r['speedup_vs_frame_by_frame']:.1f}x"
        print(f"{r['case']:32} {r['positions']:4d} {r['sweep_ms']:9.1f} {r['bare_forward_ms']:8.1f} "
              f"{r['overhead_ratio']:6.3f} {loop:>10} {sp:>8} {r['positions_per_s']:7.0f} "
              f"{r['gflops_achieved']:8.1f} {r['fraction_of_matmul_rate']:6.0%}")
    print(f"default sweep {res['default_sweep_ms']:.1f} ms (goal < 500: {'ok' if res['ok_default'] else 'FAIL'}); "
          f"grid {res['grid_sweep_ms']:.0f} ms (goal < 5000: {'ok' if res['ok_grid'] else 'FAIL'})")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    main(ap.parse_args().quick)
