"""How faithful a saliency map is, scored so that maps of different resolution compare fairly.

Deletion and insertion (Petsiuk et al. 2018, RISE): delete the image's regions in the order a map ranks them
(replace them with a baseline) and follow the class's probability, which a faithful map makes fall at once; or
insert them into the baseline, which a faithful map makes rise at once. The areas under the two curves, and
insertion minus deletion as one score, say how well the map ranks the evidence the model uses.

Three choices make a CNN's map and a ViT's map comparable:

- One grid. Every map is average-pooled to the coarsest grid among the maps compared (a CNN's 2x2 last feature
  map and a ViT's 8x8 patch grid are both scored on 2x2 cells), and a cell is deleted or inserted whole. Ranking
  the pixels of upsampled maps instead rewards a finer map for its resolution, and a bilinear upsampling of a 2x2
  map holds each cell's value flat from the cell's centre out to the image's border, so it ranks a corner of the
  image first: the ranking of the interpolation, not of the model.
- No invented order. Cells of equal value are deleted in one step (the curve's segment across them is straight),
  so a tie is never broken by position.
- Two baselines. What deleted cells become changes the curves: a blur keeps the colours and the rough layout, a
  flat mean colour keeps nothing but the average colour. Every map is scored with both, and one map is read as more
  faithful than another only if it is ahead by more than MARGIN with each.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.transforms.functional import gaussian_blur

from core.messages import Message, listing, say
from core.models import LoadedModel

BASELINES = ("blur", "mean")  # the first is the one the curves on the page show
# The smallest difference in score read as a difference: about what the choice of baseline alone moves one map's
# score (on the single-star sample, blur against mean colour: 0.03 for the embedded ViT's maps, 0.05 for the CNN's).
MARGIN = 0.05
SAME = 0.0005  # scores closer than this print the same in the table (three decimals)
TINY = 1e-6  # a floor for the untouched probability the curves are divided by
CHUNK = 64  # perturbed images per forward pass: bounds the memory of a large timm model at 224 px


@dataclass(frozen=True)
class Curves:
    """The class's probability along the deletion and insertion of one map's cells, relative to the untouched image's
    (1 = unchanged), so that a model's own confidence does not score: a model that gives the class 64 % would
    otherwise have a smaller deletion area than one that gives it 99 %, whatever its map."""
    fractions: np.ndarray  # share of the image's pixels deleted / inserted, 0..1
    deletion: np.ndarray  # relative probability as the top-ranked cells are replaced by the baseline (starts at 1)
    insertion: np.ndarray  # relative probability as they are put back into the baseline (ends at 1)
    untouched: float  # the class's probability on the untouched image, which the curves are divided by
    deletion_auc: float  # lower is more faithful
    insertion_auc: float  # higher is more faithful

    @property
    def score(self) -> float:
        """Insertion area minus deletion area (higher is more faithful; 0 for a flat map)."""
        return self.insertion_auc - self.deletion_auc

    @property
    def rise(self) -> float:
        """How far a perturbed image ever lifted the class above the untouched image: evidence *against* the class
        was deleted, or left out while the rest went in."""
        return float(max(self.deletion.max(), self.insertion.max()) - 1.0)


@dataclass(frozen=True)
class Faithfulness:
    cells: np.ndarray  # the map average-pooled to the common grid: what is ranked
    curves: dict[str, Curves]  # baseline -> curves

    def score(self, baseline: str = BASELINES[0]) -> float:
        return self.curves[baseline].score


@dataclass(frozen=True)
class Scored:
    """One map's faithfulness, named by its model and method (what reading() compares)."""
    model: str
    method: str
    faithfulness: Faithfulness


def common_grid(sizes) -> tuple[int, int]:
    """The coarsest grid among maps of these (rows, cols): every map can be pooled onto it."""
    sizes = list(sizes)
    return min(h for h, _ in sizes), min(w for _, w in sizes)


def pooled(saliency: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """The map [h, w] average-pooled to `grid` (torch's adaptive average pooling: a cell is the mean of the map's
    values over its share of the image)."""
    m = torch.as_tensor(np.asarray(saliency, dtype=np.float32))[None, None]
    return F.adaptive_avg_pool2d(m, grid)[0, 0].numpy()


def cell_of_pixel(grid: tuple[int, int], size: tuple[int, int]) -> torch.Tensor:
    """[H, W]: the number of the grid cell (row-major) each pixel of an image of `size` lies in; pixel row r lies in
    cell row floor(r * rows / H), so the cells tile the image."""
    (gh, gw), (h, w) = grid, size
    rows = torch.arange(h) * gh // h
    cols = torch.arange(w) * gw // w
    return rows[:, None] * gw + cols[None, :]


def blurred(x: torch.Tensor, sigma_frac: float = 0.08) -> torch.Tensor:
    """The image under a Gaussian blur of sigma = 8 % of its side: shapes and edges go, colours stay (so deletion
    does not add a new, sharp shape)."""
    sigma = max(1.0, sigma_frac * max(x.shape[-2:]))
    k = int(2 * round(3 * sigma) + 1)
    return gaussian_blur(x, [min(k, 2 * (x.shape[-1] // 2) - 1), min(k, 2 * (x.shape[-2] // 2) - 1)], [sigma, sigma])


def baseline(x: torch.Tensor, kind: str) -> torch.Tensor:
    """What deleted regions become, for an image [..., C, H, W]: its blur, or its mean colour everywhere."""
    if kind == "blur":
        return blurred(x)
    return x.mean((-2, -1), keepdim=True).expand_as(x).clone()


def perturbation_batch(x: torch.Tensor, cells: np.ndarray, base: torch.Tensor) -> tuple[np.ndarray, torch.Tensor]:
    """(fractions [k + 1], images [2 (k + 1), C, H, W]): the deletion series, then the insertion series, for a map
    of `cells` [gh, gw] over the image x [C, H, W] with k distinct cell values. Step i deletes (sets to `base`) or
    inserts (takes from x, the rest from `base`) every cell whose value is among the i highest; the fraction is the
    share of pixels those cells cover."""
    cells = np.asarray(cells, dtype=np.float32)
    value = torch.from_numpy(cells).reshape(-1)[cell_of_pixel(cells.shape, tuple(x.shape[-2:]))]  # [H, W]
    levels = np.unique(cells)[::-1]  # distinct values, highest first
    chosen = torch.stack([torch.zeros_like(value, dtype=torch.bool)] + [value >= v for v in levels.tolist()])
    fractions = chosen.float().mean((1, 2)).numpy()
    chosen = chosen.unsqueeze(1)  # [S, 1, H, W]
    return fractions, torch.cat([torch.where(chosen, base, x), torch.where(chosen, x, base)])


def curves(probabilities: torch.Tensor | np.ndarray, fractions: np.ndarray) -> Curves:
    """Curves (relative to the untouched image, which is the deletion's first image) and their trapezoid areas from
    the class probabilities of one perturbation_batch."""
    p = np.asarray(probabilities.detach().float() if isinstance(probabilities, torch.Tensor) else probabilities,
                   dtype=float)
    s = len(fractions)
    untouched = float(p[0])
    deletion, insertion = p[:s] / max(untouched, TINY), p[s:] / max(untouched, TINY)
    return Curves(fractions, deletion, insertion, untouched, float(np.trapezoid(deletion, fractions)),
                  float(np.trapezoid(insertion, fractions)))


def measure(lm: LoadedModel, img: torch.Tensor, class_idx: int, maps: dict[str, np.ndarray],
            grid: tuple[int, int]) -> dict[str, Faithfulness]:
    """Each map (any size, pooled to `grid`) scored for `class_idx` of `img` ([3, H, W] in [0, 1]) under every
    baseline; all perturbed images go through the model in chunks of one batch."""
    x = lm.preprocess(img)[0]
    bases = {kind: baseline(x, kind) for kind in BASELINES}
    plan, batches = [], []
    for method, saliency in maps.items():
        cells = pooled(saliency, grid)
        for kind, base in bases.items():
            fractions, batch = perturbation_batch(x, cells, base)
            plan.append((method, cells, kind, fractions, len(batch)))
            batches.append(batch)
    batch = torch.cat(batches)
    with torch.inference_mode():
        p = torch.cat([lm.net(batch[i:i + CHUNK]).softmax(-1)[:, class_idx] for i in range(0, len(batch), CHUNK)])
    out: dict[str, dict] = {}
    start = 0
    for method, cells, kind, fractions, n in plan:
        out.setdefault(method, {"cells": cells, "curves": {}})["curves"][kind] = curves(p[start:start + n], fractions)
        start += n
    return {m: Faithfulness(v["cells"], v["curves"]) for m, v in out.items()}


# ------------------------------------------------------------------------------------------------- what it says

def ahead(a: Faithfulness, b: Faithfulness, margin: float = MARGIN) -> bool:
    """Whether map a is more faithful than map b: ahead by more than `margin` under every baseline."""
    return all(a.score(kind) - b.score(kind) > margin for kind in BASELINES)


def reading(scored: list[Scored], margin: float = MARGIN) -> list[Message]:
    """What the scores support, and nothing more: the maps ahead of all the others (every one of them ahead of
    every other map by more than `margin` under both baselines), the maps behind all the others, or that the scores
    do not tell the maps apart; then the maps whose first deletion steps *raised* the class's probability."""
    ranked = sorted(scored, key=lambda s: -s.faithfulness.score())
    cuts = [k for k in range(1, len(ranked))
            if all(ahead(a.faithfulness, b.faithfulness, margin) for a in ranked[:k] for b in ranked[k:])]

    def named(rows):
        return listing(say("explain.reading.map", model=s.model, method=say(f"explain.method.{s.method}"))
                       for s in rows)

    if not cuts:
        out = [say("explain.reading.no_difference", margin=margin)] if len(ranked) > 1 else []
    else:
        out = [say("explain.reading.ahead", maps=named(ranked[:cuts[0]]), margin=margin),
               say("explain.reading.behind", maps=named(ranked[cuts[-1]:]), margin=margin)]
    by_model = {(s.model, s.method): s.faithfulness for s in scored}
    for model in dict.fromkeys(s.model for s in scored):
        cam, gradcam = by_model.get((model, "cam")), by_model.get((model, "gradcam"))
        if cam and gradcam and all(abs(cam.score(k) - gradcam.score(k)) < SAME for k in BASELINES):
            out.append(say("explain.reading.cam_is_gradcam", model=model))
    risen = [s for s in ranked if s.faithfulness.curves[BASELINES[0]].rise > margin]
    if risen:
        peak = max(s.faithfulness.curves[BASELINES[0]].rise for s in risen)
        out.append(say("explain.reading.distractor", maps=named(risen), peak=1 + peak))
    return out
