"""Benchmark the models themselves: load time, forward time, the machine's matmul rate, peak memory.

usage: python -m bench.bench_models [--quick]     (prints a table; `python -m bench.run_all` keeps the numbers)

- load time of every embedded model (core.models.load_model, timm already imported): first and median;
- forward time at batch 1 and batch 64 of every embedded model (64x64) and of timm vit_tiny_patch16_224 and
  resnet18 built with pretrained=False (224x224), median of N runs after warm-up;
- the machine's float32 matrix-multiply rate (torch.matmul of 2048x2048 matrices), the ceiling that the
  sensitivity bench compares its achieved GFLOP/s with;
- peak resident memory (VmHWM) of a fresh Python process that imports what the app imports, loads the
  embedded models and runs the default sweep, and of one that also holds timm vit_tiny + resnet18.

Torch runs at the app's thread count: ui/compute.py calls torch.set_num_threads($IBL_TORCH_THREADS, default 1)
so that parallel sessions do not fight over the cores; the matmul rate is measured at that count and at all cores.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from bench.bench_app import MEMORY_GOAL_MB
from core import models

# timm is imported inside the functions that time models: importing it costs seconds, and the benches that use this
# module's helpers (timed, embedded_or_random) never need it; it is imported before the clock starts, as the app has
# it imported already, so a model's load time leaves it out

ROOT = Path(__file__).resolve().parent.parent
TIMM_MODELS = ("vit_tiny_patch16_224", "resnet18")
LOAD_GOAL_MS = 1000.0
APP_THREADS = int(os.environ.get("IBL_TORCH_THREADS", "1"))  # as ui/compute.py sets it
ALL_THREADS = os.cpu_count() or 1


def use_app_threads() -> int:
    torch.set_num_threads(APP_THREADS)
    return APP_THREADS


def timed(fn, repeat: int = 7, warmup: int = 2) -> dict:
    """Median and best wall time of `fn` in ms, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return {"median_ms": statistics.median(times), "best_ms": min(times), "runs": repeat}


def paired(fn_a, fn_b, repeat: int = 15, warmup: int = 3) -> dict:
    """Time two functions alternately (a, b, a, b, ...) so that drift in the machine's speed hits both alike.

    Returns each one's median and best ms and the ratio a/b of the best times (the least disturbed runs) and of
    the medians of the per-pair ratios."""
    for _ in range(warmup):
        fn_a()
        fn_b()
    ta, tb = [], []
    for _ in range(repeat):
        for fn, out in ((fn_a, ta), (fn_b, tb)):
            t = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t) * 1e3)
    return {"a": {"median_ms": statistics.median(ta), "best_ms": min(ta)},
            "b": {"median_ms": statistics.median(tb), "best_ms": min(tb)},
            "ratio_best": min(ta) / min(tb), "ratio_paired_median": statistics.median(a / b for a, b in zip(ta, tb))}


def matmul_gflops(n: int = 2048, repeat: int = 5, threads: int | None = None) -> dict:
    """Float32 matrix-multiply rate of this machine (best of `repeat`) at `threads` (default: the app's);
    also at all cores, under "all_cores"."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    flops = 2 * n ** 3
    before = torch.get_num_threads()
    out = {}
    try:
        for key, t in (("app", threads or APP_THREADS), ("all_cores", ALL_THREADS)):
            torch.set_num_threads(t)
            r = timed(lambda: torch.matmul(a, b), repeat=repeat, warmup=1)
            out[key] = {"threads": t, "best_gflops": flops / (r["best_ms"] / 1e3) / 1e9,
                        "median_gflops": flops / (r["median_ms"] / 1e3) / 1e9}
    finally:
        torch.set_num_threads(before)
    return {"n": n, **out["app"], "all_cores": out["all_cores"]}


def embedded_or_random(name: str):
    """(LoadedModel, weights note): the embedded model, or the same architecture with random weights."""
    try:
        return models.load_model(name), "embedded weights"
    except models.ModelError:
        return models.load_model(name, pretrained=False), "random weights (embedded weights missing)"


def load_times(repeat: int = 5) -> list[dict]:
    import timm  # noqa: F401

    rows = []
    for name in models.EMBEDDED:
        t = time.perf_counter()
        try:
            models.load_model(name)
        except models.ModelError as e:
            rows.append({"model": name, "weights": "missing", "first_ms": None, "median_ms": None,
                         "goal_ms": LOAD_GOAL_MS, "ok": None, "note": str(e)})
            continue
        first = (time.perf_counter() - t) * 1e3
        r = timed(lambda: models.load_model(name), repeat=repeat, warmup=0)
        rows.append({"model": name, "weights": "embedded weights", "first_ms": first, "median_ms": r["median_ms"],
                     "goal_ms": LOAD_GOAL_MS, "ok": max(first, r["median_ms"]) < LOAD_GOAL_MS})
    return rows


OVERSIZED = "timm:vit_giant_patch14_clip_224"  # 1,013 M parameters, 3.9 GB when built
REFUSAL_GOAL_MS = 1000.0


def refusal_time(repeat: int = 3) -> dict:
    """How long refusing an oversized timm model takes (its parameters are counted on the meta device)."""
    import timm  # noqa: F401

    def refuse():
        try:
            models.load_model(OVERSIZED, pretrained=False)
        except models.ModelTooLargeError:
            return
        raise AssertionError(f"{OVERSIZED} was not refused")

    r = timed(refuse, repeat=repeat, warmup=1)
    return {"model": OVERSIZED, **r, "goal_ms": REFUSAL_GOAL_MS, "ok": r["median_ms"] < REFUSAL_GOAL_MS}


def forward_times(quick: bool = False) -> list[dict]:
    import timm

    rows = []
    cases = []
    for name in models.EMBEDDED:
        lm, note = embedded_or_random(name)
        cases.append((name, lm.net, 64, note))
    for name in TIMM_MODELS:
        torch.manual_seed(0)
        cases.append((f"timm:{name}", timm.create_model(name, pretrained=False).eval(), 224,
                      "random weights (pretrained=False)"))
    for name, net, size, note in cases:
        for batch in (1, 64):
            x = torch.rand(batch, 3, size, size)
            heavy = size > 100 and batch > 1
            repeat = (2 if quick else 3) if heavy else (5 if quick else 15)
            with torch.inference_mode():
                r = timed(lambda: net(x), repeat=repeat, warmup=1 if heavy else 3)
            rows.append({"model": name, "input": f"{batch}x3x{size}x{size}", "batch": batch, "weights": note,
                         **r, "per_image_ms": r["median_ms"] / batch,
                         "images_per_s": batch / (r["median_ms"] / 1e3)})
    return rows


# Runs in a fresh interpreter: what the app imports, the models it holds, the default sweep; prints the peak RSS
# from VmHWM. Not ru_maxrss: Linux keeps ru_maxrss across fork + exec, so a child started by a large bench process
# reported the parent's peak (1287 MB in both cases of the first run).
_MEMORY_PROBE = r"""
import json, os, sys
def stage(name):
    d = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines())
    stages.append({"stage": name, **{k: int(d[k].split()[0]) / 1024 for k in ("VmRSS", "RssAnon", "RssFile")}})
stages = []
sys.path.insert(0, sys.argv[1])
import numpy, pandas, altair, streamlit
from ui import compute  # as the app: torch configured by ui/compute.py
import torch
stage("import numpy, pandas, altair, streamlit, torch")
import timm
from core import attention, equivariance, images, models, sensitivity as sen, shapes, transforms
stage("+ import timm, core")
from bench.bench_models import embedded_or_random
held = {}
for name in models.EMBEDDED:
    held[name] = embedded_or_random(name)[0]
for name in sys.argv[2:]:
    held[name] = models.load_model("timm:" + name, pretrained=False)
stage("+ models: " + ", ".join(held))
sprite = shapes.make_sprite("star", 20, 0, (1.0, 0.82, 0.12))
bg = sen.make_background("noisy gradient", (64, 64), 7)
path = sen.make_path("horizontal", sprite.shape, (64, 64), 1)
sen.sweep({n: held[n] for n in ("cnn", "vit")}, bg, sprite, path)
grid = sen.make_path("grid", sprite.shape, (64, 64), 2)
sen.sweep({n: held[n] for n in ("cnn", "vit")}, bg, sprite, grid)
with torch.inference_mode():
    for name in sys.argv[2:]:
        held[name].net(torch.rand(1, 3, 224, 224))
stage("+ default and grid sweeps" + (", a 224x224 forward of each timm model" if sys.argv[2:] else ""))
status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines())
print(json.dumps({"peak_mb": int(status["VmHWM"].split()[0]) / 1024,
                  "models": list(held), "stages": stages}))
"""


def peak_memory(timm_models=()) -> dict:
    out = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, str(ROOT), *timm_models], capture_output=True,
                         check=False, text=True, cwd=ROOT, timeout=300)
    if out.returncode != 0:
        return {"peak_mb": None, "error": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


_IMPORT_TORCH = r"""
import json, torch
status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines())
print(json.dumps({"torch": torch.__version__, "cuda_build": torch.version.cuda is not None,
                  "import_mb": int(status["VmRSS"].split()[0]) / 1024}))
"""


def torch_import(python: str = sys.executable) -> dict:
    """Resident memory of a fresh `import torch` by `python`, and which build of torch it has."""
    out = subprocess.run([python, "-c", _IMPORT_TORCH], capture_output=True, check=False, text=True, timeout=120)
    if out.returncode != 0:
        return {"python": python, "import_mb": None, "error": out.stderr.strip().splitlines()[-1:]}
    return {"python": python, **json.loads(out.stdout.strip().splitlines()[-1])}


def torch_builds() -> dict:
    """`import torch` here and, when IBL_CPU_TORCH_PYTHON names an interpreter with a CPU-only build (what
    requirements.txt installs on Community Cloud; e.g. a venv with `pip install torch==2.13.0`), there too:
    the CUDA build's extra libraries are most of the gap between this machine and the memory goal."""
    builds = {"here": torch_import()}
    if os.environ.get("IBL_CPU_TORCH_PYTHON"):
        builds["cpu"] = torch_import(os.environ["IBL_CPU_TORCH_PYTHON"])
    return builds


def memory() -> list[dict]:
    rows = []
    for case, extra in (("app imports + embedded models + default and grid sweeps", ()),
                        ("... + timm vit_tiny_patch16_224 + resnet18 (pretrained=False)", TIMM_MODELS)):
        r = peak_memory(extra)
        goal = MEMORY_GOAL_MB if not extra else None
        rows.append({"case": case, **r, "goal_mb": goal,
                     "ok": None if goal is None or r["peak_mb"] is None else r["peak_mb"] < goal})
    return rows


def main(quick: bool = False) -> dict:
    use_app_threads()
    torch.manual_seed(0)
    res = {"threads": torch.get_num_threads(), "torch": torch.__version__,
           "matmul": matmul_gflops(repeat=3 if quick else 5),
           "load": load_times(3 if quick else 5), "forward": forward_times(quick), "memory": memory(),
           "torch_builds": torch_builds(), "refusal": refusal_time()}
    print_table(res)
    return res


def print_table(res: dict) -> None:
    m = res["matmul"]
    print(f"torch {res['torch']}, {res['threads']} thread(s) as in the app; float32 matmul {m['n']}x{m['n']}: "
          f"{m['best_gflops']:.1f} GFLOP/s best, {m['median_gflops']:.1f} median "
          f"({m['all_cores']['best_gflops']:.1f} best at all {m['all_cores']['threads']} cores)")
    print(f"\n{'load model':12} {'weights':18} {'first ms':>9} {'median ms':>10}  goal < 1000 ms")
    for r in res["load"]:
        if r["first_ms"] is None:
            print(f"{r['model']:12} {'missing':18} {'-':>9} {'-':>10}  -")
        else:
            print(f"{r['model']:12} {r['weights']:18} {r['first_ms']:9.1f} {r['median_ms']:10.1f}  "
                  f"{'ok' if r['ok'] else 'FAIL'}")
    r = res.get("refusal")
    if r:
        print(f"\nrefuse {r['model']} (over IBL_MAX_PARAMS): median {r['median_ms']:.0f} ms, best {r['best_ms']:.0f} ms"
              f"  goal < {r['goal_ms']:.0f} ms {'ok' if r['ok'] else 'FAIL'}")
    print(f"\n{'forward':28} {'input':16} {'median ms':>10} {'best ms':>9} {'ms/image':>9} {'img/s':>8}  weights")
    for r in res["forward"]:
        print(f"{r['model']:28} {r['input']:16} {r['median_ms']:10.1f} {r['best_ms']:9.1f} {r['per_image_ms']:9.2f} "
              f"{r['images_per_s']:8.0f}  {r['weights']}")
    print(f"\n{'peak resident memory (fresh process)':66} {'MB':>7}  goal")
    for r in res["memory"]:
        mb = "error" if r["peak_mb"] is None else f"{r['peak_mb']:.0f}"
        goal = "" if r["goal_mb"] is None else f"< {r['goal_mb']:.0f} {'ok' if r['ok'] else 'FAIL'}"
        print(f"{r['case']:66} {mb:>7}  {goal}")
        for st in r.get("stages", []):
            print(f"    {st['stage'][:62]:62} resident {st['VmRSS']:6.0f} MB = anonymous {st['RssAnon']:5.0f} "
                  f"+ file-backed (library code) {st['RssFile']:5.0f}")
    builds = res.get("torch_builds", {})
    for where, b in builds.items():
        if b.get("import_mb") is not None:
            kind = "CUDA" if b["cuda_build"] else "CPU-only"
            build = f"import torch alone, {where} (torch {b['torch']}, {kind} build)"
            print(f"{build:66} {b['import_mb']:7.0f}")
    est = cpu_build_estimate(res)
    if est is not None:
        print(f"{'embedded case with a CPU-only torch (estimate: minus the import gap)':66} {est:7.0f}  "
              f"< {MEMORY_GOAL_MB:.0f} {'ok' if est < MEMORY_GOAL_MB else 'FAIL'} (estimate)")


def cpu_build_estimate(res: dict) -> float | None:
    """The embedded case's peak minus (import torch here - import torch with the CPU-only build), when both known."""
    b, peak = res.get("torch_builds", {}), res["memory"][0].get("peak_mb")
    if peak is None or "cpu" not in b or None in (b["cpu"].get("import_mb"), b["here"].get("import_mb")) \
            or not b["here"]["cuda_build"] or b["cpu"]["cuda_build"]:
        return None
    return peak - (b["here"]["import_mb"] - b["cpu"]["import_mb"])


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    main(ap.parse_args().quick)
