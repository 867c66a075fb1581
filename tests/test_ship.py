"""Shipping a data-hunger checkpoint as an embedded model (core.experiments.ship), on a tiny grid cell."""
import json
import shutil
from dataclasses import replace

import pandas as pd
import pytest
from safetensors.torch import load_file

from core import models, shapes
from core import train as tr
from core.experiments import hunger as hu
from core.experiments import ship
from core.train import EarlyStop

TINY = replace(hu.CPU, sizes=(30,), val_size=40, test_size=50, priority=(),
               arms={m: replace(a, batch=16, stop=EarlyStop(check_images=32, patience=1, min_images=32,
                                                             max_images=64)) for m, a in hu.CPU.arms.items()})


@pytest.fixture(scope="module")
def trained_cell(tmp_path_factory):
    """A CNN cell (N = 30, no augmentation) run once with --weights: (its row, the checkpoints folder, test set)."""
    folder = tmp_path_factory.mktemp("checkpoints")
    test = hu.test_set(50)
    row = hu.run_cell("cnn", 30, 0, 0, TINY, test=test, weights=folder)
    return dict(row, converged=True, command="python -m core.experiments hunger --cpu"), folder, test


@pytest.fixture
def grid_cell(trained_cell, tmp_path, monkeypatch):
    """The cell's CSV row, an output folder, the ship command's arguments, and an embedded spec naming the cell."""
    monkeypatch.setitem(models.EMBEDDED, "cnn-30", models.EmbeddedSpec("resnet", "full", "#000001", cell=(30, 0)))
    small = tr.dataset
    monkeypatch.setattr(tr, "dataset", lambda key: small(key, test_size=60))
    row, folder, test = trained_cell
    checkpoints = tmp_path / "checkpoints"
    shutil.copytree(folder, checkpoints)
    csv = tmp_path / "h.csv"
    pd.DataFrame([row]).to_csv(csv, index=False)
    out = tmp_path / "weights"
    out.mkdir()
    argv = ["--only", "cnn-30", "--checkpoints", str(checkpoints), "--results", str(csv), "--out", str(out)]
    return row, csv, out, argv, test


def test_the_shipped_weights_are_the_rows_checkpoint_and_the_card_says_how_it_was_made(grid_cell):
    row, _, out, argv, test = grid_cell
    ship.main(argv)
    net = models.build_embedded("resnet", len(shapes.CLASSES))
    net.load_state_dict(load_file(out / "cnn-30.safetensors"))
    # the grid measured its test accuracy on the in-memory network: the shipped file gives the same number
    assert round(tr.evaluate(net.eval(), test[0], test[1], bf16=TINY.arms["cnn"].bf16), 4) == row["test_accuracy"]
    entry = json.loads((out / "model_card.json").read_text())["models"]["cnn-30"]
    assert entry["training_set"]["images"] == 30 and entry["training_set"]["augment_px"] == 0
    assert entry["parameters"] == sum(p.numel() for p in net.parameters()) == 325_866
    assert entry["recipe"]["images_seen"] == row["images_seen"] and entry["recipe"]["lr"] == row["lr"]
    assert entry["test_accuracy"]["grid_test"] == row["test_accuracy"]
    assert entry["command"] == "python -m core.experiments hunger --cpu; python -m core.experiments ship --only cnn-30"
    full = tr.dataset("test-full")
    assert entry["test_accuracy"]["full_frame"] == round(tr.evaluate(net, *full), 4)


def test_a_capped_or_missing_cell_is_not_shipped(grid_cell):
    row, csv, out, argv, _ = grid_cell
    pd.DataFrame([dict(row, converged=False)]).to_csv(csv, index=False)
    with pytest.raises(SystemExit, match="hit its cap"):
        ship.main(argv)
    (argv_dir := out.parent / "checkpoints" / hu.checkpoint_name("cnn", 30, 0, 0)).unlink()
    with pytest.raises(SystemExit, match="has not run cell"):
        ship.main(argv)
    assert not list(out.iterdir()) and not argv_dir.exists()


def test_a_missing_grid_model_names_the_grid_commands(tmp_path, monkeypatch):
    monkeypatch.setitem(models.EMBEDDED, "cnn-30", models.EmbeddedSpec("resnet", "full", "#000001", cell=(30, 0)))
    monkeypatch.setattr(models, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(models.WeightsUnavailableError, match="core.experiments ship --only cnn-30"):
        models.load_model("cnn-30")


def test_core_train_trains_exactly_the_models_that_are_not_grid_checkpoints():
    for name, spec in models.EMBEDDED.items():
        assert (name in tr.TRAINED) == (spec.cell is None), name
        if spec.cell is not None:  # a cell the CPU grid runs, of the architecture the grid trains
            assert spec.arch == hu.ARCHS[spec.kind] and spec.cell[0] in hu.CPU.sizes and spec.cell[1] in hu.CPU.augments


def test_augmentation_pairs_match_grid_models_of_one_architecture_and_size(monkeypatch):
    spec = models.EmbeddedSpec
    monkeypatch.setattr(models, "EMBEDDED", {
        "vit": spec("vit", "full", "#000000"),  # trained by core.train: no grid cell
        "vit-30": spec("vit", "full", "#000001", cell=(30, 0)),
        "vit-aug-30": spec("vit", "full", "#000002", cell=(30, 8)),
        "vit-aug-60": spec("vit", "full", "#000003", cell=(60, 8)),  # no plain run of N = 60
        "cnn-30": spec("resnet", "full", "#000004", cell=(30, 0))})  # no augmented CNN
    assert models.augmentation_pairs() == [("vit-aug-30", "vit-30")]
