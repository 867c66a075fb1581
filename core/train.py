"""Train the embedded models on procedural shapes: `python -m core.train`.

Reproduces core/weights/*.safetensors and core/weights/model_card.json on 2 CPU cores with fixed
seeds. `python -m core.train --only vit --steps 200` trains one model briefly (for trials).
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch.utils.flop_counter import FlopCounterMode

from core import shapes
from core.models import (
    EMBEDDED,
    EMBEDDED_MEAN,
    EMBEDDED_STD,
    MODEL_CARD,
    WEIGHTS_DIR,
    build_embedded,
)

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
    # bfloat16 autocast. On this AVX512-BF16 CPU: 1.6x faster for the plain ResNet, no gain for the ViT,
    # and ~25 % *slower* for cnn-aa (BlurPool's depthwise convolutions), which keeps it to share cnn's recipe
    bf16: bool = False


# Per-architecture recipes. The ViT is compute-bound on a CPU (its matmuls run at ~75 % of one core's peak).
RECIPES = {
    "resnet": Recipe(steps=1100, lr=2e-3, weight_decay=5e-4, bf16=True),
    "resnet-aa": Recipe(steps=1100, lr=2e-3, weight_decay=5e-4, bf16=True),
    "vit": Recipe(steps=5000, lr=1.5e-3, weight_decay=0.05, batch=64),
}
# Longest first, so the worker that finishes early takes the short ones. Measured on 2 CPU workers of one thread:
# cnn-aa 2,440 s (stride-1 stem: 3x cnn's FLOPs, and slow depthwise blurs), vit 1,300 s, vit-center 1,350 s,
# cnn and cnn-center ~180 s each.
TRAIN_ORDER = ("cnn-aa", "vit", "vit-center", "cnn", "cnn-center")
# the embedded models this command trains (the others are data-hunger checkpoints: core.experiments.ship)
TRAINED = [n for n, spec in EMBEDDED.items() if spec.cell is None]


def recipe_for(name: str, steps: int | None = None) -> Recipe:
    """The recipe that trains embedded model `name`: its architecture's full budget (vit-center too, so that its
    comparison with vit is about the training region, not under-training); `steps` overrides it, for trials."""
    base = RECIPES[EMBEDDED[name].arch]
    return replace(base, steps=steps or base.steps)


def device_name(dev: torch.device) -> str:
    """How a result records where it was made: 'cuda:<GPU name>' or 'cpu:<n> thread(s)'."""
    if dev.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(dev)}"
    return f"cpu:{torch.get_num_threads()} thread(s)"


def normalise(x: torch.Tensor) -> torch.Tensor:
    """Pixels (float in [0, 1], or uint8) -> the embedded models' input normalisation."""
    if x.dtype == torch.uint8:
        x = x.float() / 255
    mean = torch.tensor(EMBEDDED_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(EMBEDDED_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


@dataclass(frozen=True)
class EarlyStop:
    """Train until validation stops improving, under a cap, instead of for a fixed number of steps.

    The learning rate warms up, then stays constant; every `check_images` images the model is scored on
    validation. Once `patience` checks in a row have not beaten the best score by more than `min_delta`, and at
    least `min_images` images have been seen, the run has *converged*: the rate then decays linearly to zero over
    `cooldown` x the steps so far (warm-up, stable, decay: Hägele et al. 2024 show it matches a cosine schedule of
    the same length without fixing the length in advance). A run that reaches `max_images` first decays over its
    last `cooldown / (1 + cooldown)` share and is *not* converged. Either way the best-scoring check is kept.
    `min_images` exists because a ViT's validation accuracy can sit near chance for a long stretch before it
    climbs: patience must not read that plateau as the end.
    """
    check_images: int
    patience: int
    min_images: int
    max_images: int
    min_delta: float = 0.002
    cooldown: float = 0.2

    def steps(self, batch: int) -> tuple[int, int, int]:
        """(steps between checks, the earliest step patience may stop at, the step cap) for batches of `batch`."""
        return (max(1, round(self.check_images / batch)), math.ceil(self.min_images / batch),
                max(1, self.max_images // batch))


def lr_at(step: int, recipe: Recipe) -> float:
    """Linear warm-up, then cosine decay to zero."""
    warm = max(1, int(recipe.warmup * recipe.steps))
    if step < warm:
        return recipe.lr * (step + 1) / warm
    t = (step - warm) / max(1, recipe.steps - warm)
    return recipe.lr * 0.5 * (1 + math.cos(math.pi * t))


def lr_early(step: int, peak: float, warm: int, decay_from: int | None, decay_steps: int) -> float:
    """The early-stopping schedule: linear warm-up over `warm` steps, constant at `peak`, and from step
    `decay_from` (None: not decaying yet) a linear decay to zero over `decay_steps` steps."""
    if step < warm:
        return peak * (step + 1) / warm
    if decay_from is None or step < decay_from:
        return peak
    return peak * max(0.0, 1 - (step - decay_from) / max(1, decay_steps))


def train(net: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, recipe: Recipe, seed: int = 0,
          progress=None, should_stop=None, transform=None, validate=None, validate_every: int = 0,
          early: EarlyStop | None = None) -> dict:
    """Train `net` in place with AdamW on (images in [0,1] or uint8, labels); returns a small log.

    Runs on the device that `images` and `net` are on. `progress(step, steps, loss)` is called every step;
    `should_stop()` returning True ends early; `transform(batch, idx)` augments each batch of raw images
    (`idx`: their indices in `images`). With `validate(net) -> score`, the model is scored every
    `validate_every` steps and at the end, and the best-scoring weights are the ones left in `net`
    (the log gives `best_step` and `best_score`): checkpoint selection on a validation set.
    With `early` (and `validate`), the run's length is decided by validation instead of `recipe.steps`
    (see EarlyStop); the log adds `converged`, `stopped_at` (the step patience fired, or None) and `images_seen`.
    """
    gen = torch.Generator().manual_seed(seed)
    decay = [p for n, p in net.named_parameters() if p.ndim > 1 and "pos_embed" not in n]
    no_decay = [p for n, p in net.named_parameters() if not (p.ndim > 1 and "pos_embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": recipe.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=recipe.lr)
    device = images.device
    net.train()
    order = torch.randperm(len(images), generator=gen)
    pos, loss_ema, done, t0 = 0, None, 0, time.perf_counter()
    best = {"score": -math.inf, "step": 0, "state": None}
    history = []
    total = recipe.steps
    if early is not None:
        if validate is None:
            raise ValueError("early stopping needs a validation score")
        validate_every, earliest, total = early.steps(recipe.batch)
        warm = max(1, int(recipe.warmup * earliest))
        cap_decay = math.ceil(total * early.cooldown / (1 + early.cooldown))
        plan = {"from": None, "steps": cap_decay, "stopped_at": None, "top": -math.inf, "waited": 0}

    def check(step: int) -> None:
        net.eval()
        score = float(validate(net))
        net.train()
        history.append((step, score))
        if score > best["score"]:  # the earliest of equal scores: fewer steps, same validation
            best.update(score=score, step=step,
                        state={k: v.detach().clone() for k, v in net.state_dict().items()})
        if early is not None and plan["from"] is None:  # patience counts only before the decay
            if score > plan["top"] + early.min_delta:
                plan.update(top=score, waited=0)
            else:
                plan["waited"] += 1
            if plan["waited"] >= early.patience and step >= earliest:
                decay_steps = math.ceil(early.cooldown * step)
                plan.update({"from": step, "steps": decay_steps, "stopped_at": step})

    step = 0
    while step < total:
        if early is not None:
            if plan["from"] is None and step >= total - cap_decay:
                plan["from"] = step  # the cap: decay over the last share, not converged
            elif plan["stopped_at"] is not None:
                total = plan["from"] + plan["steps"]
                if step >= total:
                    break
        if should_stop is not None and should_stop():
            break
        if pos + recipe.batch > len(order):
            order, pos = torch.randperm(len(images), generator=gen), 0
        idx = order[pos:pos + recipe.batch].to(device)
        pos += recipe.batch
        lr = (lr_at(step, recipe) if early is None else
              lr_early(step, recipe.lr, warm, plan["from"], plan["steps"]))
        for g in opt.param_groups:
            g["lr"] = lr
        batch = images[idx] if transform is None else transform(images[idx], idx)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=recipe.bf16):
            logits = net(normalise(batch))
        loss = F.cross_entropy(logits.float(), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        # kept on the device: reading it every step would make a GPU wait for every step to finish
        loss_ema = loss.detach() if loss_ema is None else 0.95 * loss_ema + 0.05 * loss.detach()
        step = done = step + 1
        if progress is not None:
            progress(done, total, float(loss_ema))
        if validate is not None and validate_every and done % validate_every == 0 and done < total:
            check(done)
    log = {"steps": done, "seconds": time.perf_counter() - t0,
           "final_loss": None if loss_ema is None else float(loss_ema)}
    if validate is not None and done:
        if not history or history[-1][0] != done:
            check(done)
        net.load_state_dict(best["state"])
        log.update(best_step=best["step"], best_score=best["score"], history=history)
    if early is not None:
        log.update(converged=plan["stopped_at"] is not None, stopped_at=plan["stopped_at"],
                   images_seen=done * recipe.batch)
    net.eval()
    return log


@torch.inference_mode()
def evaluate(net: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int = 500,
             bf16: bool = False) -> float:
    """Top-1 accuracy in [0, 1] (on the device the images are on)."""
    net.eval()
    correct = 0
    for i in range(0, len(images), batch):
        with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = net(normalise(images[i:i + batch]))
        correct += (logits.argmax(-1) == labels[i:i + batch]).sum().item()
    return correct / len(images)


def flops_per_image(net: torch.nn.Module) -> int:
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        net(torch.zeros(1, 3, shapes.CANVAS, shapes.CANVAS))
    return int(counter.get_total_flops())


def dataset(key: str, train_size: int = TRAIN_SIZE, test_size: int = TEST_SIZE):
    """(images, labels) of one fixed split: "train-full", "train-center", "test-full" or "test-center"."""
    split, region = key.split("-")
    n = train_size if split == "train" else test_size
    return shapes.make_dataset(n, SEEDS[key], region, dtype=torch.uint8 if split == "train" else torch.float32)[:2]


_DATA: dict = {}


def _data(key: str):
    # rendered on first use (~50 s per 60k images), so a worker that only trains full-frame models
    # never renders the centre set
    if key not in _DATA:
        _DATA[key] = dataset(key)
    return _DATA[key]


_DEVICE = ["cpu"]


def _init_worker(threads: int, device: str = "cpu") -> None:
    torch.set_num_threads(threads)
    _DEVICE[0] = device


def train_one(name: str, steps: int | None = None, position: int = 0) -> tuple[str, dict, dict]:
    """Train one embedded model on the worker's datasets; returns (name, state dict, model-card entry)."""
    from tqdm import tqdm  # deferred: a dev requirement (requirements-dev.txt) the app never needs

    arch, region = EMBEDDED[name].arch, EMBEDDED[name].region
    recipe = recipe_for(name, steps)
    device = torch.device(_DEVICE[0])
    if device.type == "cuda":  # bf16 autocast pays on a GPU for every architecture
        recipe = replace(recipe, bf16=True)
    torch.manual_seed(SEEDS["torch"])
    net = build_embedded(arch, len(shapes.CLASSES)).to(device)
    bar = tqdm(total=recipe.steps, desc=f"{name:>10}", unit="step", position=position, mininterval=2)

    def progress(step, steps, loss):
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.3f}", refresh=False)

    log = train(net, *(t.to(device) for t in _data(f"train-{region}")), recipe, seed=SEEDS["torch"],
                progress=progress)
    bar.close()
    net = net.cpu()
    acc_full = evaluate(net, *_data("test-full"))
    acc_center = evaluate(net, *_data("test-center"))
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
                   "bf16_autocast": recipe.bf16,
                   "torch_seed": SEEDS["torch"], "threads": torch.get_num_threads()},
        "test_accuracy": {"full_frame": acc_full, "center": acc_center, "images": TEST_SIZE,
                          "seeds": {"full": SEEDS["test-full"], "center": SEEDS["test-center"]}},
        "training_seconds": round(log["seconds"], 1),
        "device": device_name(device),
        "final_train_loss": log["final_loss"],
        "torch_version": torch.__version__,
    }
    return name, {k: v.contiguous() for k, v in net.state_dict().items()}, entry


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", nargs="*", choices=TRAINED, help="train only these models")
    ap.add_argument("--steps", type=int, help="override the step budget (trials only)")
    ap.add_argument("--jobs", type=int, default=2,
                    help="models trained at once, one thread each (2 on a 2-core machine: small models keep "
                         "one core busier than two threads keep two)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    args = ap.parse_args(argv)
    command = " ".join(["python -m core.train", *(sys.argv[1:] if argv is None else argv)])
    names = sorted(args.only or TRAINED, key=TRAIN_ORDER.index)
    args.out.mkdir(parents=True, exist_ok=True)
    card_path = args.out / MODEL_CARD.name
    card = json.loads(card_path.read_text()) if card_path.exists() else {"models": {}}

    t0 = time.perf_counter()
    jobs = max(1, min(args.jobs, len(names)))
    threads = max(1, torch.get_num_threads() // jobs)
    print(f"training {', '.join(names)} with {jobs} worker(s) x {threads} thread(s); rendering datasets ...",
          flush=True)
    with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn"), initializer=_init_worker,
                             initargs=(threads, args.device)) as pool:
        futures = [pool.submit(train_one, n, args.steps, i % jobs) for i, n in enumerate(names)]
        for future in as_completed(futures):
            name, state, entry = future.result()
            entry["command"] = command
            entry["run_seconds"] = round(time.perf_counter() - t0)  # wall time of the command when this one ended
            save_file(state, args.out / f"{name}.safetensors")
            card["models"][name] = entry
            card["models"] = {n: card["models"][n] for n in EMBEDDED if n in card["models"]}
            card_path.write_text(json.dumps(card, indent=2) + "\n")
            acc = entry["test_accuracy"]
            print(f"\n{name}: test accuracy full frame {acc['full_frame']:.2%}, centre {acc['center']:.2%}, "
                  f"trained in {entry['training_seconds']:.0f} s", flush=True)
    card.pop("total_seconds", None)  # each entry records the command and wall time that made it
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    print(f"done in {time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
