"""Phrases every reading of the experiments' rows shares: sizes, seeds, the machine a run trained on.

A reading (hunger_reading, pretraining_reading, variants_reading) decides which sentence and which numbers; these
helpers turn the numbers its sentences quote into Messages (core.messages) or plain strings the same way everywhere.
No torch, no pandas: any page may import it.
"""
from __future__ import annotations

from core.messages import Message, listing, say


def fmt_n(n: int) -> str:
    """A training-set size as a person reads it: 1000 -> '1k', 2500 -> '2,500'."""
    return f"{n // 1000:,}k" if n >= 1000 and n % 1000 == 0 else f"{n:,}"


def size_list(sizes) -> Message | str:
    """Several sizes in one phrase ('1k, 2k and 4k'), joined the way the reader's language joins a list."""
    return listing((fmt_n(n) for n in sizes), "enumeration")


def seeds_phrase(n: int) -> Message:
    """'1 seed' or 'n seeds'."""
    return say("data.method.seeds" if n > 1 else "data.method.seed", n=n)


def device_phrase(device) -> Message:
    """'cuda:NVIDIA H200' -> 'an NVIDIA H200 GPU'; 'cpu:1 thread(s)' -> 'a CPU, 1 thread per run'. Given the rows'
    whole device column, runs on CPUs with different thread counts read as a range ('1–2 threads per run')."""
    if not isinstance(device, str):
        found = sorted({str(d) for d in device})
        cpu = sorted({d.partition(":")[2].split()[0] for d in found if d.startswith("cpu:")} - {""}, key=int)
        if len(found) > 1 and len(cpu) == len(found):
            return say("data.device.cpu", threads=f"{cpu[0]}–{cpu[-1]}")
        if len(found) > 1:
            return listing((device_phrase(d) for d in found), "enumeration")
        device = found[0]
    kind, _, what = device.partition(":")
    if kind == "cuda":
        return say("data.device.gpu_named", name=what) if what else say("data.device.gpu")
    threads = what.split()[0] if what else "?"
    return say("data.device.cpu_one" if threads == "1" else "data.device.cpu", threads=threads)
