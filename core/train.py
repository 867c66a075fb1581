"""Train the embedded models on procedural shapes: `python -m core.train`.

Reproduces core/weights/*.safetensors and core/weights/model_card.json on 2 CPU cores with fixed
seeds. `python -m core.train --only vit --steps 200` trains one model briefly (for trials).
"""
from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from core import shapes
from core.models import EMBEDDED, EMBEDDED_MEAN, EMBEDDED_STD, MODEL_CARD, WEIGHTS_DIR, build_embedded

TRAIN_SIZE = 60_000
TEST_SIZE = 2_000
SEEDS = {"train-full": 1, "train-center": 2, "test-full": 10_001, "test-center": 10_002, "torch": 0}


@dataclass(frozen=True)
class Recipe:
    steps: int
    lr: float
    weight_decay: float
    batch: int = 128
    warmup: float = 0.05


# Per-architecture training budgets, chosen so the whole run fits in ~30 min on 2 cores.
RECIPES = {
    "resnet": Recipe(steps=1500, lr=2e-3, weight_decay=5e-4),
    "resnet-aa": Recipe(steps=1500, lr=2e-3, weight_decay=5e-4),
    "vit": Recipe(steps=3500, lr=2e-3, weight_decay=0.05),
}


def normalise(x: torch.Tensor) -> torch.Tensor:
    """Pixels (float in [0, 1], or uint8) -> the embedded models' input normalisation."""
    if x.dtype == torch.uint8:
        x = x.float() / 255
    mean = torch.tensor(EMBEDDED_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(EMBEDDED_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def lr_at(step: int, recipe: Recipe) -> float:
    """Linear warm-up, then cosine decay to zero."""
    warm = max(1, int(recipe.warmup * recipe.steps))
    if step < warm:
        return recipe.lr * (step + 1) / warm
    t = (step - warm) / max(1, recipe.steps - warm)
    return recipe.lr * 0.5 * (1 + math.cos(math.pi * t))


def train(net: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, recipe: Recipe, seed: int = 0,
          progress=None, should_stop=None, transform=None) -> dict:
    """Train `net` in place with AdamW on (images in [0,1] or uint8, labels); returns a small log.

    `progress(step, steps, loss)` is called every step; `should_stop()` returning True ends early;
    `transform(batch)` augments each batch of raw images.
    """
    gen = torch.Generator().manual_seed(seed)
    decay = [p for n, p in net.named_parameters() if p.ndim > 1 and "pos_embed" not in n]
    no_decay = [p for n, p in net.named_parameters() if not (p.ndim > 1 and "pos_embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": recipe.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=recipe.lr)
    net.train()
    order = torch.randperm(len(images), generator=gen)
    pos, loss_ema, done, t0 = 0, None, 0, time.perf_counter()
    for step in range(recipe.steps):
        if should_stop is not None and should_stop():
            break
        if pos + recipe.batch > len(order):
            order, pos = torch.randperm(len(images), generator=gen), 0
        idx = order[pos:pos + recipe.batch]
        pos += recipe.batch
        for g in opt.param_groups:
            g["lr"] = lr_at(step, recipe)
        batch = images[idx] if transform is None else transform(images[idx])
        loss = F.cross_entropy(net(normalise(batch)), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_ema = loss.item() if loss_ema is None else 0.95 * loss_ema + 0.05 * loss.item()
        done = step + 1
        if progress is not None:
            progress(step + 1, recipe.steps, loss_ema)
    net.eval()
    return {"steps": done, "seconds": time.perf_counter() - t0, "final_loss": loss_ema}


@torch.inference_mode()
def evaluate(net: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int = 500) -> float:
    """Top-1 accuracy in [0, 1]."""
    net.eval()
    correct = sum((net(normalise(images[i:i + batch])).argmax(-1) == labels[i:i + batch]).sum().item()
                  for i in range(0, len(images), batch))
    return correct / len(images)


def flops_per_image(net: torch.nn.Module) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        net(torch.zeros(1, 3, shapes.CANVAS, shapes.CANVAS))
    return int(counter.get_total_flops())


def datasets(train_size: int = TRAIN_SIZE, test_size: int = TEST_SIZE) -> dict:
    out = {}
    for key, seed in SEEDS.items():
        if key == "torch":
            continue
        split, region = key.split("-")
        n = train_size if split == "train" else test_size
        out[key] = shapes.make_dataset(n, seed, region, dtype=torch.uint8 if split == "train" else torch.float32)[:2]
    return out


_DATA: dict = {}


def _init_worker(threads: int) -> None:
    torch.set_num_threads(threads)
    _DATA.update(datasets())


def train_one(name: str, steps: int | None = None, position: int = 0) -> tuple[str, dict, dict]:
    """Train one embedded model on the worker's datasets; returns (name, state dict, model-card entry)."""
    from tqdm import tqdm

    arch, region = EMBEDDED[name]
    recipe = RECIPES[arch]
    if steps:
        recipe = Recipe(steps, recipe.lr, recipe.weight_decay, recipe.batch, recipe.warmup)
    torch.manual_seed(SEEDS["torch"])
    net = build_embedded(arch, len(shapes.CLASSES))
    bar = tqdm(total=recipe.steps, desc=f"{name:>10}", unit="step", position=position, mininterval=2)

    def progress(step, steps, loss):
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3f}", refresh=False)

    log = train(net, *_DATA[f"train-{region}"], recipe, seed=SEEDS["torch"], progress=progress)
    bar.close()
    acc_full = evaluate(net, *_DATA["test-full"])
    acc_center = evaluate(net, *_DATA["test-center"])
    entry = {
        "architecture": arch,
        "timm_class": type(net).__module__ + "." + type(net).__name__,
        "parameters": sum(p.numel() for p in net.parameters()),
        "flops_per_image": flops_per_image(net),
        "input_size": [3, shapes.CANVAS, shapes.CANVAS],
        "classes": list(shapes.CLASSES),
        "training_set": {"region": region, "images": TRAIN_SIZE, "seed": SEEDS[f"train-{region}"],
                         "object_size_px": list(shapes.SIZE_RANGE), "center_radius_px": shapes.CENTER_RADIUS},
        "recipe": {"optimizer": "AdamW", "steps": log["steps"], "batch": recipe.batch, "lr": recipe.lr,
                   "weight_decay": recipe.weight_decay, "schedule": "linear warm-up + cosine",
                   "torch_seed": SEEDS["torch"], "threads": torch.get_num_threads()},
        "test_accuracy": {"full_frame": acc_full, "center": acc_center, "images": TEST_SIZE,
                          "seeds": {"full": SEEDS["test-full"], "center": SEEDS["test-center"]}},
        "training_seconds": round(log["seconds"], 1),
        "final_train_loss": log["final_loss"],
        "torch_version": torch.__version__,
    }
    return name, {k: v.contiguous() for k, v in net.state_dict().items()}, entry


def main(argv=None):
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from safetensors.torch import save_file

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", nargs="*", choices=list(EMBEDDED), help="train only these models")
    ap.add_argument("--steps", type=int, help="override the step budget (trials only)")
    ap.add_argument("--jobs", type=int, default=2,
                    help="models trained at once, one thread each (2 on a 2-core machine: small models keep "
                         "one core busier than two threads keep two)")
    ap.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    args = ap.parse_args(argv)
    # the slowest first, so the other worker can run the short ones meanwhile
    names = sorted(args.only or list(EMBEDDED), key=lambda n: -RECIPES[EMBEDDED[n][0]].steps)
    args.out.mkdir(parents=True, exist_ok=True)
    card_path = args.out / MODEL_CARD.name
    card = json.loads(card_path.read_text()) if card_path.exists() else {"models": {}}

    t0 = time.perf_counter()
    jobs = max(1, min(args.jobs, len(names)))
    threads = max(1, torch.get_num_threads() // jobs)
    print(f"training {', '.join(names)} with {jobs} worker(s) x {threads} thread(s); rendering datasets ...",
          flush=True)
    with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                             initargs=(threads,)) as pool:
        futures = [pool.submit(train_one, n, args.steps, i % jobs) for i, n in enumerate(names)]
        for future in as_completed(futures):
            name, state, entry = future.result()
            save_file(state, args.out / f"{name}.safetensors")
            card["models"][name] = entry
            card["models"] = {n: card["models"][n] for n in EMBEDDED if n in card["models"]}
            card_path.write_text(json.dumps(card, indent=2) + "\n")
            acc = entry["test_accuracy"]
            print(f"\n{name}: test accuracy full frame {acc['full_frame']:.2%}, centre {acc['center']:.2%}, "
                  f"trained in {entry['training_seconds']:.0f} s", flush=True)
    card["total_seconds"] = round(time.perf_counter() - t0)
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    print(f"done in {time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
