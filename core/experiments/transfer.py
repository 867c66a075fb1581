"""How well a trained network's features transfer: k-shot linear probes on shapes it has never seen.

The ViT paper's Fig. 4 (Dosovitskiy et al. 2021) plots *linear few-shot* accuracy against the amount of
pre-training data: freeze the network, and fit a regularised least-squares map from the frozen representation of
k images per class to {-1, +1} targets. Here the frozen network is any data-hunger checkpoint (trained on the ten
shapes of core.shapes.CLASSES) and the new classes are core.shapes.TARGET_CLASSES, which no run has seen:

- features: the pooled representation the classifier reads (`forward_head(..., pre_logits=True)`), L2-normalised;
- k images per class drawn from a fixed support pool, `DRAWS` times; the ridge penalty of each draw is chosen by
  its own leave-one-out error (closed form), so no held-out image picks it;
- accuracy on `QUERY_SIZE` held-out target images, averaged over the draws.

`python -m core.experiments transfer` measures the embedded cnn and vit (60,000 images each, converged) and
writes core/results/transfer_embedded.csv: the largest point of the page's transfer curves.
"""
from __future__ import annotations

import functools

import pandas as pd
import torch

from core import shapes
from core.experiments import RESULTS
from core.models import load_model
from core.train import normalise

SHOTS = (5, 25)
DRAWS = 5  # support sets per k: one draw of 5 images per class is a noisy measurement
SUPPORT_SEED = 80_000  # the pool the support sets are drawn from
SUPPORT_POOL = 100 * len(shapes.TARGET_CLASSES)
QUERY_SEED = 80_808
QUERY_SIZE = 1_000
PENALTIES = (1e-3, 1e-2, 1e-1, 1.0, 10.0)
EMBEDDED_FILE = RESULTS / "transfer_embedded.csv"
EMBEDDED_MODELS = ("cnn", "vit")


@functools.lru_cache(maxsize=1)
def target_images():
    """(support pool images, labels, query images, labels): uint8, five target shapes, full frame."""
    sx, sy, _ = shapes.make_dataset(SUPPORT_POOL, SUPPORT_SEED, "full", dtype=torch.uint8,
                                    classes=shapes.TARGET_CLASSES)
    qx, qy, _ = shapes.make_dataset(QUERY_SIZE, QUERY_SEED, "full", dtype=torch.uint8, classes=shapes.TARGET_CLASSES)
    return sx, sy, qx, qy


@torch.inference_mode()
def features(net: torch.nn.Module, images: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """The pooled, pre-logit features of a timm network ([n, d], float64, L2-normalised), in eval mode: batch-norm
    statistics are read, never updated."""
    was_training = net.training
    net.eval()
    out = torch.cat([net.forward_head(net.forward_features(normalise(images[i:i + batch])), pre_logits=True)
                     for i in range(0, len(images), batch)]).double()
    net.train(was_training)
    return torch.nn.functional.normalize(out, dim=1)


def fit_ridge(x: torch.Tensor, labels: torch.Tensor, classes: int, penalties=PENALTIES):
    """Least squares from features x [n, d] to +-1 one-hot targets with an L2 penalty, in the dual form (n < d
    here): W = Xc^T (Xc Xc^T + lambda I)^-1 T on features centred on their mean. Lambda is the one of `penalties`
    with the smallest leave-one-out squared error, e_i / (1 - H_ii) for the hat matrix H (the usual closed form;
    the centring is shared by all n, so it is a close approximation rather than n refits).
    Returns (mean, W, lambda); predict with `predict`."""
    mean = x.mean(0)
    xc = x - mean
    targets = -torch.ones(len(x), classes, dtype=x.dtype)
    targets[torch.arange(len(x)), labels] = 1
    t = targets - targets.mean(0)  # the intercept absorbs the targets' mean
    gram = xc @ xc.T
    best = None
    for lam in penalties:
        inv = torch.linalg.inv(gram + lam * torch.eye(len(x), dtype=x.dtype))
        hat = gram @ inv
        loo = ((t - hat @ t) / (1 - hat.diagonal())[:, None]).pow(2).sum()
        if best is None or loo < best[0]:
            best = (loo, lam, inv)
    _, lam, inv = best
    return mean, xc.T @ (inv @ t), lam


def predict(fit, x: torch.Tensor) -> torch.Tensor:
    mean, w, _ = fit
    return ((x - mean) @ w).argmax(1)


def draw_support(labels: torch.Tensor, k: int, classes: int, generator: torch.Generator) -> torch.Tensor:
    """Indices of k images of each class, drawn without replacement."""
    picks = [torch.nonzero(labels == c).flatten() for c in range(classes)]
    return torch.cat([p[torch.randperm(len(p), generator=generator)[:k]] for p in picks])


def few_shot(net: torch.nn.Module, shots=SHOTS, draws: int = DRAWS, data=None) -> dict[str, float]:
    """{"transfer_<k>shot": mean accuracy on the held-out target images over `draws` support sets} for each k of
    `shots`. `net` is only read (eval mode, no gradient)."""
    sx, sy, qx, qy = data if data is not None else target_images()
    classes = int(max(sy.max(), qy.max())) + 1
    pool, query = features(net, sx), features(net, qx)
    out = {}
    for k in shots:
        gen = torch.Generator().manual_seed(k)
        accs = []
        for _ in range(draws):
            idx = draw_support(sy, k, classes, gen)
            fit = fit_ridge(pool[idx], sy[idx], classes)
            accs.append(float((predict(fit, query) == qy).double().mean()))
        out[f"transfer_{k}shot"] = round(sum(accs) / len(accs), 4)
    return out


def load_embedded(path=None):
    """The embedded models' transfer rows (made by `python -m core.experiments transfer`), or None if absent."""
    path = EMBEDDED_FILE if path is None else path
    return pd.read_csv(path) if path.exists() else None


def main(argv=None) -> None:
    torch.set_num_threads(1)
    rows = []
    for name in EMBEDDED_MODELS:
        model = load_model(name)
        rows.append({"model": name, "train_size": int(model.info["training_set"]["images"]),
                     **few_shot(model.net), "command": "python -m core.experiments transfer"})
    pd.DataFrame(rows).to_csv(EMBEDDED_FILE, index=False)
    print(pd.DataFrame(rows).to_string(index=False))
