"""The measurements behind the data page (and the tour that quotes it), one module each.

- `positions`: accuracy against where the object is, and how much a whole-image shift changes a model
  (`python -m core.experiments positions`, `... stability`).
- `hunger`: accuracy against training-set size, every run trained until validation stops improving
  (`python -m core.experiments hunger`); `hunger_results` owns its results file (path, columns, rows, series,
  which runs converged; no torch), `hunger_reading` words what its rows say.
- `transfer`: k-shot linear probes on five shapes no run has seen, from any trained network (the ViT paper's
  Fig. 4 at lab scale); `python -m core.experiments transfer` measures the embedded models.
- `pretraining`: pre-train large, fine-tune small (`python -m core.experiments pretraining`).
- `ship`: copy a grid cell's checkpoint into core/weights as an embedded model, with its card entry
  (`python -m core.experiments ship`).
- `architectures`: the grid models' parameters, FLOPs and last maps, and its ViT's uniform attention distance, as
  a file the data page reads (`python -m core.experiments architectures`).
- `pool`: the resumable process-pool loop and CSV writing the commands share.
- `wording`: the phrases every reading shares (sizes, seeds, the machine a run trained on).

Runs and readings live apart: a run module trains and writes rows; a reading module only reads rows and returns
Messages (core.messages), worded by the catalogues. A run never imports a reading. The shipped results are in
core/results/.
"""
from pathlib import Path

RESULTS = Path(__file__).resolve().parent.parent / "results"
