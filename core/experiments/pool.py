"""The loop every long measurement shares: cells trained on worker processes, each row on disk as it lands.

A command lists its cells, skips those whose rows are already in its CSV (so a killed run resumes where it
stopped), and hands the rest to `run_pool`; `write_rows` replaces the CSV atomically after every row.
"""
from __future__ import annotations

import csv
import multiprocessing as mp
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path

import torch

WORKER: dict = {}  # what a worker process keeps between cells (its device, rendered test sets)


def _init_worker(device: str, threads: int) -> None:
    torch.set_num_threads(threads)
    WORKER["device"] = device



def run_pool(queue: list, submit, on_result, jobs: int, device: str, threads: int, time_left) -> None:
    """Train cells on `jobs` spawned worker processes (`_init_worker`): `submit(pool, queue)` takes a cell that may
    start now out of `queue` and returns its future (None: none may start yet); `on_result(result)` gets each
    result as it finishes. No cell starts once `time_left()` is False; the running ones finish."""
    with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                             initargs=(device, threads)) as pool:
        running: set = set()
        while queue or running:
            while len(running) < jobs and time_left():
                fut = submit(pool, queue)
                if fut is None:
                    break
                running.add(fut)
            if not running:
                break
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                on_result(fut.result())


def write_rows(path: Path, rows: list[dict], fields: list[str], key) -> None:
    """All `rows` to `path` (sorted by `key`), written to a temporary file first: a killed run never leaves half a
    file behind."""
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(sorted(rows, key=key))
    tmp.replace(path)


def command_line(name: str, argv, execution_flags) -> str:
    """How a result records the command that made it: without the flags that say how it ran (jobs, time limit,
    caches), so a resumed run matches the rows it resumes."""
    command = " ".join([f"python -m core.experiments {name}", *(argv or [])]).strip()
    for flag in execution_flags:
        command = _drop_flag(command, flag)
    return command


def _drop_flag(command: str, flag: str) -> str:
    """`command` without `flag` and its value(s) (up to the next --option)."""
    out, skip = [], False
    for word in command.split():
        if word.startswith("--"):
            skip = word == flag
        if not skip:
            out.append(word)
    return " ".join(out)
