"""Run every benchmark, print one table with the goals, write bench/results.json.

usage: python -m bench.run_all [--quick] [--skip-app] [--load {none,quick,full}]

- bench.bench_equivariance, bench.bench_attention, bench.bench_explain and bench.bench_biases (scripts run as they
  are; they write bench/equivariance.json, bench/attention.json, bench/explain.json and bench/biases.json, read back
  here);
- bench.bench_models: load and forward times, the machine's matmul rate, peak memory in a fresh process;
- bench.bench_sensitivity: the default sweep, its overhead over the bare forward pass, the grid, GFLOP/s;
- bench.bench_app: `streamlit run` to a finished first page in headless Chromium, the server's peak memory;
- the latest bench/latency.json (python -m bench.latency) and bench/load.json (python -m bench.load_test)
  summarised; `--load quick|full` runs the load test first.
Run it on an otherwise idle machine: the figures are wall-clock times on the cores the app would use.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

from bench import bench_app, bench_models, bench_sensitivity

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "results.json"


def run_script(module: str, *args: str, timeout: float = 1200, env: dict | None = None) -> dict:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True,
                          check=False, timeout=timeout, env={**os.environ, **(env or {})})
    print(proc.stdout.rstrip())
    if proc.returncode != 0:
        print(proc.stderr.rstrip()[-2000:])
    return {"module": module, "returncode": proc.returncode, "seconds": time.perf_counter() - t}


def read_json(name: str) -> dict | None:
    path = BENCH / name
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    data["_file_time"] = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).isoformat(timespec="seconds")
    return data


def goal_row(rows: list, area: str, figure: str, value, unit: str, goal: str = "", ok=None, note: str = ""):
    rows.append({"area": area, "figure": figure, "value": value, "unit": unit, "goal": goal,
                 "ok": None if ok is None else bool(ok), "note": note})


def page_rows(rows, eq, att, sens, threads: int):
    if eq:
        r = next((r for r in eq["results"] if r["case"] == "page update" and r["threads"] == threads), None)
        if r:
            goal_row(rows, "page update", "equivariance: default update (512x512 RGB, 7x7)", r["median_ms"], "ms",
                     "< 50 ms", r["median_ms"] < 50, f"median, {threads} threads; bench/equivariance.json")
    else:
        goal_row(rows, "page update", "equivariance: default update", None, "ms", "< 50 ms", False, "no result")
    if att:
        r = next((r for r in att["results"] if r["case"].startswith("embedded vit")), None)
        if r:
            goal_row(rows, "page update", "attention: embedded vit forward + maps + rollout", r["ms"], "ms",
                     "< 50 ms", r["ms"] < 50, f"median, {att['env']['threads']} threads; {r['weights']}; "
                     "bench/attention.json")
    else:
        goal_row(rows, "page update", "attention: default update", None, "ms", "< 50 ms", False, "no result")
    if sens:
        goal_row(rows, "page update", "sensitivity: default sweep (cnn + vit, 45 positions)",
                 sens["default_sweep_ms"], "ms", "< 500 ms", sens["ok_default"], "median")


def explain_rows(rows, ex):
    if not ex:
        goal_row(rows, "page update", "explanations: default view", None, "ms", "<= 300 ms", False, "no result")
        return
    first = ex["results"][0]
    goal_row(rows, "page update", f"explanations: {first['case']}, {first['maps']} maps + curves", first["median_ms"],
             "ms", f"<= {ex['goal_ms']:.0f} ms", ex["ok"], f"median; {first['images_forwarded']} perturbed images; "
             "bench/explain.json")
    for r in ex["results"][1:]:
        goal_row(rows, "explanations", r["case"], r["median_ms"], "ms", note=f"{r['maps']} maps, median")


def biases_rows(rows, bia):
    """The bias page's sections cost more than a control's 300 ms on a new pair of models: they are cached by the
    models' names and the default pair is computed by the warm-up, so the figure is what a new pair costs once."""
    if not bia:
        goal_row(rows, "biases", "bias-by-bias sections", None, "ms", "cached", False, "no result")
        return
    for r in bia["results"]:
        goal_row(rows, "biases", r["case"], r["median_ms"], "ms", "precomputed + cached",
                 note="median, uncached; bench/biases.json")


def sensitivity_rows(rows, sens):
    mm = sens["matmul"]["best_gflops"]
    for r in sens["rows"]:
        short = r["case"].split(" (")[0]
        if r["frame_by_frame_ms"] is not None:
            goal_row(rows, "sensitivity", f"{short}: positions per second", r["positions_per_s"], "pos/s")
            goal_row(rows, "sensitivity", f"{short}: sweep / bare batched forward", r["overhead_ratio"], "x",
                     "<= 1.15", r["ok_overhead"], f"best of alternating runs: sweep {r['sweep_best_ms']:.1f} ms, bare "
                     f"{r['bare_best_ms']:.1f} ms; median of pair ratios {r['overhead_ratio_paired_median']:.2f}")
            goal_row(rows, "sensitivity", f"{short}: speed-up over frame by frame", r["speedup_vs_frame_by_frame"],
                     "x", note=f"frame by frame {r['frame_by_frame_ms']:.0f} ms")
        else:
            goal_row(rows, "sensitivity", f"{short} (2-px steps, {r['positions']} positions)", r["sweep_ms"], "ms",
                     "< 5000 ms", sens["ok_grid"], f"{r['positions_per_s']:.0f} positions/s; "
                     f"sweep / bare forward {r['overhead_ratio']:.2f}")
        goal_row(rows, "sensitivity", f"{short}: achieved GFLOP/s", r["gflops_achieved"], "GFLOP/s",
                 note=f"{r['fraction_of_matmul_rate']:.0%} of the {mm:.0f} GFLOP/s matmul rate; {r['gflop']:.2f} GFLOP")


def model_rows(rows, models):
    m = models["matmul"]
    goal_row(rows, "machine", f"float32 matmul {m['n']}^2 at {m['threads']} thread(s) (the app's)",
             m["best_gflops"], "GFLOP/s", note="best of runs: the ceiling the sweep is compared with")
    goal_row(rows, "machine", f"float32 matmul {m['n']}^2 at all {m['all_cores']['threads']} cores",
             m["all_cores"]["best_gflops"], "GFLOP/s", note="best of runs")
    for r in models["load"]:
        if r["first_ms"] is None:
            goal_row(rows, "model load", r["model"], None, "ms", "< 1000 ms", False, "weights missing")
        else:
            goal_row(rows, "model load", r["model"], max(r["first_ms"], r["median_ms"]), "ms", "< 1000 ms", r["ok"],
                     f"first {r['first_ms']:.0f} ms, then median {r['median_ms']:.1f} ms")
    for r in models["forward"]:
        goal_row(rows, "forward", f"{r['model']} {r['input']}", r["median_ms"], "ms",
                 note=f"{r['per_image_ms']:.2f} ms/image; {r['weights']}")
    for r in models["memory"]:
        goal_row(rows, "memory", r["case"], r["peak_mb"], "MB", "" if r["goal_mb"] is None else
                 f"< {r['goal_mb']:.0f} MB", r["ok"], "peak RSS of a fresh process (VmHWM)")
    for where, b in models.get("torch_builds", {}).items():
        if b.get("import_mb") is not None:
            goal_row(rows, "memory", f"import torch alone, {where}", b["import_mb"], "MB",
                     note=f"torch {b['torch']}, {'CUDA' if b['cuda_build'] else 'CPU-only'} build")
    est = bench_models.cpu_build_estimate(models)
    if est is not None:
        goal_row(rows, "memory", "embedded case with a CPU-only torch (estimate)", est, "MB",
                 f"< {bench_app.MEMORY_GOAL_MB:.0f} MB", est < bench_app.MEMORY_GOAL_MB,
                 "peak here minus the measured import gap between the two builds")


def app_rows(rows, app):
    goal_row(rows, "app", "streamlit run -> first page finished (Chromium)", app["first_page_s"], "s", "< 5 s",
             app["ok_first_page"], "median of " + ", ".join(f"{r['first_page_s']:.2f}" for r in app["runs"]))
    for p in app["pages"]:
        ok = p["exceptions"] == 0 and p["errors"] == 0
        goal_row(rows, "app", f"first visit {p['page']} (cold caches)", p["first_render_s"], "s", "no error", ok,
                 f"{p['exceptions']} exceptions, {p['errors']} errors")
    m = app["server_memory_mb"]
    if m:
        goal_row(rows, "memory", "streamlit server after every page ran (VmHWM)", m["VmHWM"], "MB",
                 f"< {app['memory_goal_mb']:.0f} MB",
                 app["ok_server_memory"], f"resident now {m['VmRSS']:.0f} MB")


def latency_rows(rows, lat):
    """The latest bench/latency.json (python -m bench.latency): what a lecturer feels in Chromium."""
    if not lat:
        goal_row(rows, "latency", "bench/latency.json", None, "", "present", False, "run python -m bench.latency")
        return
    for r in lat.get("first_visits", []):
        goal_row(rows, "latency", f"first visit /{r['page']}, warmed server", r["warmed_s"], "s", "<= 2 s",
                 r["warmed_s"] <= 2.0, f"{r['just_started_s']:.2f} s on a server that had just started")
    for r in lat["controls"]:
        goal_row(rows, "latency", f"/{r['page']}: {r['control']}", r["median_ms"], "ms", f"<= {r['goal_ms']:.0f} ms",
                 r["ok"], f"median of {len(r['runs_ms'])}, max {r['max_ms']:.0f} ms; {lat['_file_time']}")


def load_rows(rows, load):
    if not load:
        goal_row(rows, "load", "bench/load.json", None, "", "present", False, "run python -m bench.load_test")
        return
    s = load["summary"]
    quick = ", quick" if load.get("quick") else ""
    tag = f"{s['sessions']}+{s['fault_sessions']} sessions{quick}, {load['_file_time']}"
    u = s["update_concurrent"]
    if u["n"]:
        goal_row(rows, "load", "page update p50 / p95, all sessions at once", u["p50_s"], "s", note=
                 f"p95 {u['p95_s']:.2f} s, n={u['n']}; {tag}")
    c = s["update_churn"]
    if c["n"]:
        goal_row(rows, "load", "update p50 / p95 during the churn phase", c["p50_s"], "s",
                 note=f"p95 {c['p95_s']:.2f} s, n={c['n']}")
    quarters = " > ".join("?" if v is None else f"{v:.0f}" for v in s.get("memory_at_quarters_mb", []))
    goal_row(rows, "load", f"server memory growth, 2nd half of {s['interactions']} interactions (after warm-up)",
             s.get("memory_growth_second_half_mb"), "MB", "< 50 MB", s["ok_memory_flat"],
             f"at rest per quarter {quarters} MB: {s['memory_growth_mb'] or 0:+.0f} MB in all")
    goal_row(rows, "load", "cross-talk checks failed", s["cross_talk_failures"], "", "0",
             s["cross_talk_failures"] == 0, f"of {s['cross_talk_checks']}")
    goal_row(rows, "load", "exception elements shown", s["exception_elements"], "", "0", s["exception_elements"] == 0)
    goal_row(rows, "load", "health polls unanswered in 10 s", s["health_failures"], "", "0",
             s["health_failures"] == 0 and s["server_alive_at_end"],
             f"of {s['health_polls']}; {s.get('health_slow', '?')} slower than 3 s, "
             f"max {s.get('health_max_s') or 0:.1f} s")
    goal_row(rows, "load", "fault sessions got a clear error", len(load["faults"]), "cases", "4, no exception",
             s["faults_ok"])
    goal_row(rows, "load", "overall", "PASS" if s["ok"] else "FAIL", "", "PASS", s["ok"],
             f"{s['failures']} failures recorded")


def fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def print_table(rows: list) -> None:
    print("\n" + "=" * 150)
    print(f"{'area':12} {'figure':62} {'value':>10} {'unit':8} {'goal':>16} {'pass':>5}  note")
    print("-" * 150)
    for r in rows:
        ok = "" if r["ok"] is None else ("yes" if r["ok"] else "NO")
        print(f"{r['area']:12} {r['figure'][:62]:62} {fmt(r['value']):>10} {r['unit']:8} {r['goal']:>16} {ok:>5}  "
              f"{r['note']}")
    print("=" * 150)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats (for a trial, not for the record)")
    ap.add_argument("--skip-app", action="store_true", help="skip the browser start-up bench")
    ap.add_argument("--load", choices=("none", "quick", "full"), default="none",
                    help="run bench.load_test first (default: only summarise the latest bench/load.json)")
    args = ap.parse_args(argv)
    os.chdir(ROOT)
    t0 = time.perf_counter()
    threads = bench_models.APP_THREADS
    print("== bench.bench_equivariance (times at 1 thread and at all cores; the table takes the app's count)")
    scripts = [run_script("bench.bench_equivariance", "--repeat", "5" if args.quick else "15")]
    print(f"\n== bench.bench_attention (OMP_NUM_THREADS={threads}: torch's default count made the app's)")
    scripts.append(run_script("bench.bench_attention", env={"OMP_NUM_THREADS": str(threads)}))
    print("\n== bench.bench_explain (all maps and both faithfulness curves, embedded CNN and ViT)")
    scripts.append(run_script("bench.bench_explain"))
    print("\n== bench.bench_biases (the bias-by-bias page's measurements, uncached)")
    scripts.append(run_script("bench.bench_biases"))

    print("\n== bench.bench_models")
    models = bench_models.main(args.quick)
    print("\n== bench.bench_sensitivity")
    sens = bench_sensitivity.main(args.quick, matmul=models["matmul"])
    app = None
    if not args.skip_app:
        print("\n== bench.bench_app")
        app = bench_app.main(1 if args.quick else 3)
    if args.load != "none":
        print("\n== bench.load_test")
        scripts.append(run_script("bench.load_test", *(["--quick"] if args.load == "quick" else []), timeout=1500))

    eq, att, load = read_json("equivariance.json"), read_json("attention.json"), read_json("load.json")
    lat = read_json("latency.json")
    rows = []
    page_rows(rows, eq, att, sens, threads)
    explain_rows(rows, read_json("explain.json"))
    biases_rows(rows, read_json("biases.json"))
    sensitivity_rows(rows, sens)
    model_rows(rows, models)
    if app:
        app_rows(rows, app)
    latency_rows(rows, lat)
    load_rows(rows, load)
    print_table(rows)
    failed = [r["figure"] for r in rows if r["ok"] is False]
    print(f"{sum(r['ok'] is True for r in rows)} goals met, {len(failed)} missed" +
          (": " + "; ".join(failed) if failed else ""))

    res = {"generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "quick": args.quick,
           "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                       "python": platform.python_version(), "machine": platform.machine()},
           "table": rows, "goals_missed": failed, "scripts": scripts,
           "sensitivity": sens, "models": models, "app": app,
           "equivariance_json": eq,
           "attention_json": att["results"] if att else None,
           "load_summary": load["summary"] if load else None, "load_faults": load["faults"] if load else None,
           "seconds": time.perf_counter() - t0}
    OUT.write_text(json.dumps(res, indent=1) + "\n")
    print(f"wrote {OUT} ({res['seconds']:.0f} s)")
    return res


if __name__ == "__main__":
    main()
