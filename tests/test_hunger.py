"""The data-hunger experiment (core.hunger) on tiny settings, against hand-computed facts."""
import hashlib
import math
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from core import attention as att
from core import shapes
from core.experiments import hunger as hu
from core.experiments import hunger_reading as hr
from core.experiments import hunger_results, wording
from core import train as tr
from core.models import build_embedded, initialisation
from core.train import EarlyStop

STOP = EarlyStop(check_images=32, patience=1, min_images=32, max_images=64)
TINY = replace(hu.CPU, sizes=(30, 60), val_size=40, test_size=50, priority=(),
               arms={m: replace(a, batch=16, stop=STOP) for m, a in hu.CPU.arms.items()})


def _digests(images):
    return {hashlib.sha1(img.numpy().tobytes()).hexdigest() for img in images}


def test_validation_split_is_disjoint_from_training_and_test_images():
    (x, y, _), (vx, vy, _) = hu.load_split(None, TINY, seed=0, n=60)
    assert len(x) == 60 and len(vx) == 40
    train, val, test = _digests(x), _digests(vx), _digests(hu.test_set(200)[0])
    assert len(train) == 60 and len(val) == 40  # no duplicates inside a split either
    assert not train & val and not train & test and not val & test
    # nested training sets: N = 30 is the first half of N = 60, with the same validation split
    (x30, _, _), (vx30, _, _) = hu.load_split(None, TINY, seed=0, n=30)
    assert torch.equal(x30, x[:30]) and torch.equal(vx30, vx)
    (x1, _, _), _ = hu.load_split(None, TINY, seed=1, n=30)
    assert not _digests(x1) & train  # another seed draws other images


def test_the_cache_gives_the_same_split_as_rendering(tmp_path):
    direct = hu.load_split(None, TINY, 0, 30)
    cached = hu.load_split(tmp_path, TINY, 0, 30)
    assert all(torch.equal(a, b) for a, b in zip(direct[0] + direct[1], cached[0] + cached[1]))
    assert (tmp_path / "pool-s0-c0.pt").exists()


def test_the_reported_checkpoint_is_the_best_on_validation():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 10))
    images, labels = torch.rand(64, 3, 4, 4), torch.randint(0, 10, (64,))
    scores, states = iter([0.2, 0.7, 0.4, 0.5]), []

    def validate(m):
        assert not m.training  # scored in eval mode
        states.append({k: v.clone() for k, v in m.state_dict().items()})
        return next(scores)

    log = tr.train(net, images, labels, tr.Recipe(8, 1e-1, 0.0, batch=8), validate=validate, validate_every=2)
    assert len(states) == 4 and log["best_step"] == 4 and log["best_score"] == 0.7
    assert all(torch.equal(v, states[1][k]) for k, v in net.state_dict().items())
    assert not all(torch.equal(v, states[3][k]) for k, v in net.state_dict().items())  # training went on after it


def _scripted_run(scores, stop, batch=8):
    """Train a tiny linear net with a validation score read from `scores` at each check; (log, the learning rate
    of every step)."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, 10))
    images, labels = torch.rand(64, 3, 4, 4), torch.randint(0, 10, (64,))
    it, rates = iter(scores), []
    log = tr.train(net, images, labels, tr.Recipe(0, 1e-2, 0.0, batch=batch, warmup=0.0), validate=lambda m: next(it),
                   early=stop, progress=lambda *_: rates.append(None))
    return log


def test_early_stopping_stops_on_a_plateau_and_not_before():
    # a check every 2 steps (16 images of batch 8); patience 3 checks; no stop before 64 images (step 8)
    stop = EarlyStop(check_images=16, patience=3, min_images=64, max_images=8_000, min_delta=0.01, cooldown=0.5)
    # climbs until the 4th check (step 8), then flat within min_delta: 3 checks without improvement end it at step 14
    scores = [0.1, 0.3, 0.5, 0.7, 0.705, 0.70, 0.709] + [0.9] * 50  # 0.9s would be the decay's checks
    log = _scripted_run(scores, stop)
    assert log["converged"] and log["stopped_at"] == 14
    assert log["steps"] == 14 + 7  # then a decay of cooldown x 14 steps
    assert log["images_seen"] == 8 * log["steps"]
    # a plateau near chance before min_images is not the end: the same flat start, with a later climb
    early_plateau = [0.1] * 4 + [0.2, 0.4, 0.6, 0.8] + [0.8] * 60
    late = _scripted_run(early_plateau, replace(stop, min_images=128))
    assert late["converged"] and late["stopped_at"] >= 16 and late["best_score"] == 0.8
    flat = _scripted_run(early_plateau, stop)  # with min_images 64 the same scores stop at step 8
    assert flat["stopped_at"] == 8


def test_a_run_that_hits_its_cap_is_not_converged():
    stop = EarlyStop(check_images=16, patience=2, min_images=16, max_images=160, min_delta=0.0, cooldown=0.25)
    rising = [i / 100 for i in range(100)]  # always improving: patience never fires
    log = _scripted_run(rising, stop)
    assert not log["converged"] and log["stopped_at"] is None
    assert log["steps"] == 160 // 8 and log["images_seen"] == 160
    assert log["best_step"] == log["steps"]  # still improving at the end: the last check is the best


def test_the_early_stopping_schedule_warms_up_holds_then_decays_to_zero():
    assert tr.lr_early(0, 1.0, 4, None, 0) == pytest.approx(0.25)
    assert tr.lr_early(3, 1.0, 4, None, 0) == 1.0 and tr.lr_early(500, 1.0, 4, None, 0) == 1.0
    assert [tr.lr_early(s, 1.0, 4, 10, 4) for s in (9, 10, 12, 14, 20)] == [1.0, 1.0, 0.5, 0.0, 0.0]


def test_shift_augmentation_keeps_the_object_whole_and_never_wraps():
    img = torch.zeros(200, 1, 64, 64)
    # an object 1 px from the left edge (a sprite's own box has a margin), its box 0..26 with centre x = 13
    img[:, :, 30:34, 1:25] = 1
    centres = torch.tensor([[13.0, 32.0]]).expand(200, 2)
    out = hu.shift_within_frame(img, centres, 8, torch.Generator().manual_seed(0))
    assert torch.equal(out.sum((1, 2, 3)), img.sum((1, 2, 3)))  # nothing cut off
    cols = (out[:, 0].amax(1) > 0).float()
    left = cols.argmax(1)
    assert (left >= 1).all() and (left <= 9).all() and left.unique().numel() > 3  # moved right only, up to 8 px
    assert cols[:, 40:].sum() == 0  # nothing wrapped to the far side
    rows = (out[:, 0].amax(2) > 0).float().argmax(1)
    assert ((rows - 30).abs() <= 8).all() and rows.unique().numel() > 3


def test_uniform_attention_has_the_uniform_mean_distance():
    grid, patch, prefix = (3, 4), 8, 1
    n = prefix + 12
    attn = torch.full((2, 3, 2, n, n), 1.0 / n, dtype=torch.float64)
    # by hand: the mean over query patches of sum over key patches of (1/n) * Euclidean distance in px
    cells = [(r, c) for r in range(3) for c in range(4)]
    expected = sum(patch * math.hypot(r1 - r2, c1 - c2) for r1, c1 in cells for r2, c2 in cells) / (12 * n)
    got = att.mean_attention_distance(attn, grid, patch, prefix)
    assert got.shape == (3, 2) and torch.allclose(got, torch.full((3, 2), expected, dtype=torch.float64))
    assert att.uniform_attention_distance(grid, patch, prefix) == pytest.approx(expected)


def _vit_with_pos_embed(values):
    net = build_embedded("vit")
    with torch.no_grad():
        net.pos_embed[0, 1:] = values
    return net


def test_position_embedding_locality_is_one_ish_for_smooth_and_zero_ish_for_random():
    # a smooth 2-D embedding: each dimension is a Gaussian bump around one point of the 8x8 grid
    r, c = torch.meshgrid(torch.arange(8.0), torch.arange(8.0), indexing="ij")
    anchors = torch.rand(96, 2, generator=torch.Generator().manual_seed(0)) * 7
    pos = torch.stack([r.reshape(-1), c.reshape(-1)], 1)
    smooth = torch.exp(-torch.cdist(pos, anchors) ** 2 / 8)
    assert att.pos_embed_locality(_vit_with_pos_embed(smooth)) > 0.8
    assert att.pos_embed_locality(_vit_with_pos_embed(-smooth.flip(0))) > 0.8  # any smooth layout, not one
    noise = torch.randn(64, 96, generator=torch.Generator().manual_seed(1))
    assert abs(att.pos_embed_locality(_vit_with_pos_embed(noise))) < 0.1


def test_learnt_locality_sees_a_smooth_embedding_under_its_random_start():
    r, c = torch.meshgrid(torch.arange(8.0), torch.arange(8.0), indexing="ij")
    anchors = torch.rand(96, 2, generator=torch.Generator().manual_seed(0)) * 7
    pos = torch.stack([r.reshape(-1), c.reshape(-1)], 1)
    smooth = 0.02 * torch.exp(-torch.cdist(pos, anchors) ** 2 / 8)
    start = initialisation("vit", torch_seed=5)
    torch.manual_seed(5)  # initialisation builds exactly what a run seeded 5 starts from
    assert torch.equal(build_embedded("vit").pos_embed, start.pos_embed)
    trained = _vit_with_pos_embed(start.pos_embed.detach()[0, 1:] + smooth)
    assert att.learnt_pos_embed_locality(trained, start) > 0.8  # what was added is smooth
    assert att.pos_embed_locality(trained) < 0.5  # the same embedding, read whole, is swamped by its start


def test_no_training_set_ever_draws_a_target_shape(monkeypatch):
    """The five target shapes of the transfer probes are new to every network: the data-hunger pools and the
    embedded models' training sets never render one."""
    drawn = []
    real = shapes.make_sprite
    monkeypatch.setattr(shapes, "make_sprite", lambda label, *a, **k: drawn.append(label) or real(label, *a, **k))
    monkeypatch.setattr(hu, "CHUNK", 40)
    hu.load_split(None, TINY, 0, 30)
    monkeypatch.setattr(tr, "TRAIN_SIZE", 40)
    tr.dataset("train-full", train_size=40)
    tr.dataset("train-center", train_size=40)
    targets = {shapes.ALL_SHAPES.index(c) for c in shapes.TARGET_CLASSES}
    assert len(drawn) >= 120 and not set(drawn) & targets
    assert set(drawn) == set(range(len(shapes.CLASSES)))  # every source shape, and only those


def test_crossings_are_brackets_of_measured_sizes():
    assert hr.crossings([100, 1000], [0.5, 0.9], [0.6, 0.6]) == [(100, 1000)]
    assert hr.crossings([100, 1000, 10000], [0.5, 0.6, 0.9], [0.6, 0.6, 0.8]) == [(100, 10000)]  # a tie between
    assert hr.crossings([100, 1000, 10000], [0.7, 0.6, 0.9], [0.6, 0.6, 0.8]) == []  # touches, no crossing
    assert hr.crossings([1, 10, 100, 1000], [1, 0, 1, 0], [0, 1, 0, 1]) == [(1, 10), (10, 100), (100, 1000)]


def test_size_to_reach_brackets_the_target():
    curve = {250: (0.5,), 1000: (0.88,), 4000: (0.93,), 16000: (0.97,)}
    assert hr.size_to_reach(curve, 0.9) == (1000, 4000)
    assert hr.size_to_reach(curve, 0.95) == (4000, 16000)
    assert hr.size_to_reach(curve, 0.4) == (None, 250)
    assert hr.size_to_reach(curve, 0.99) == (16000, None)
    assert str(hr.reach_phrase(curve, 0.9)) == "needs between 1k and 4k images"
    assert str(hr.reach_phrase(curve, 0.99)) == "does not reach it by N = 16k"


def _row(model, n, seed, test, train=1.0, aug=0, converged=True):
    return {"model": model, "train_size": n, "seed": seed, "augment_px": aug, "test_accuracy": test,
            "train_accuracy": train, "converged": converged}


def test_summary_is_the_mean_and_sample_std_over_seeds():
    rows = [_row("vit", 250, s, a) for s, a in enumerate([0.5, 0.7])] + [_row("vit", 250, 0, 0.9, aug=8)]
    out = hunger_results.summary(rows)
    mean, std, runs = out["vit"][250]
    assert mean == pytest.approx(0.6) and std == pytest.approx(0.1 * 2 ** 0.5) and runs == 2
    assert out["vit + shift aug"][250] == (0.9, 0.0, 1)


def test_the_spread_reading_gives_each_series_seed_range_and_whether_the_seeds_agree_on_the_order():
    rows = [_row("cnn", 1000, 0, 0.20), _row("cnn", 1000, 1, 0.25), _row("vit", 1000, 0, 0.40),
            _row("vit", 1000, 1, 0.42), _row("vit", 250, 0, 0.3), _row("cnn", 250, 0, 0.1)]
    text = str(hr.spread_reading(rows))
    assert "At N = 1k, where 2 seeds ran" in text and "cnn 5.0, vit 2.0" in text and "250" not in text
    assert "Every seed ranks the series at N = 1k in the same order." in text
    crossed = rows[:2] + [_row("vit", 1000, 0, 0.22), _row("vit", 1000, 1, 0.23)]  # seed 0: vit ahead, seed 1: cnn
    assert "rank the series at N = 1k differently" in str(hr.spread_reading(crossed))
    assert hr.spread_reading([r for r in rows if r["seed"] == 0]) is None
    capped = [dict(r, converged=False) if r["seed"] == 1 else r for r in rows]  # a capped seed is no result
    assert hr.spread_reading(capped) is None


def test_reading_names_the_crossing_bracket_the_sizes_to_90_and_memorisation():
    rows = [_row("cnn", 250, 0, 0.40), _row("cnn", 1000, 0, 0.80), _row("cnn", 4000, 0, 0.92, 0.95),
            _row("vit", 250, 0, 0.30, 0.6), _row("vit", 1000, 0, 0.85), _row("vit", 4000, 0, 0.96, 0.97)]
    text = str(hr.reading(rows))
    assert "cross between N = 250 and 1k" in text
    assert "+10.0 points at N = 250 and -4.0 at N = 4k" in text
    assert "cnn needs between 1k and 4k images" in text and "vit needs between 1k and 4k images" in text
    assert "At N = 250 cnn fit its training images" in text and "40% on new ones" in text
    ahead = str(hr.reading([_row("cnn", 250, 0, 0.6, 0.5), _row("cnn", 500, 0, 0.7, 0.5),
                        _row("vit", 250, 0, 0.3, 0.5), _row("vit", 500, 0, 0.5, 0.5)]))
    assert "CNN beats the ViT at every N" in ahead and "memorisation" not in ahead
    assert "cnn does not reach it by N = 500" in ahead


def test_augmentation_effect_per_architecture():
    rows = [_row("cnn", 250, 0, 0.5), _row("cnn", 250, 0, 0.6, aug=8), _row("vit", 250, 0, 0.3),
            _row("vit", 250, 0, 0.45, aug=8)]
    assert str(hr.augmentation_effect(rows)) == ("Shift augmentation changes test accuracy by (points) "
                                            "cnn: +10.0 at N = 250; vit: +15.0 at N = 250.")


def test_run_cell_reports_a_validation_selected_row():
    row = hu.run_cell("vit", 30, 0, 4, TINY, test=hu.test_set(50), probe=hu.probe_set()[:8])
    assert 1 <= row["best_step"] <= row["steps"] <= 64 // 16  # the cap: 64 images of batch 16
    assert row["images_seen"] == 16 * row["steps"] and row["converged"] in (True, False)
    for k in ("train_accuracy", "val_accuracy", "test_accuracy", "transfer_5shot", "transfer_25shot"):
        assert 0 <= row[k] <= 1
    assert row["device"].startswith("cpu") and (row["lr"], row["weight_decay"]) == TINY.arms["vit"].configs[0]
    mads = [row[f"mad_layer_{i}"] for i in range(1, 7)]
    assert all(0 < d < 64 * math.sqrt(2) for d in mads) and -1 <= row["pos_embed_locality"] <= 1
    assert -1 <= row["pos_embed_learnt_locality"] <= 1


def test_a_saved_checkpoint_is_the_one_the_row_reports(tmp_path):
    test = hu.test_set(50)
    row = hu.run_cell("cnn", 30, 0, 0, TINY, test=test, weights=tmp_path)
    saved = tmp_path / hu.checkpoint_name("cnn", 30, 0, 0)
    net = build_embedded(hu.ARCHS["cnn"], len(shapes.CLASSES))
    net.load_state_dict(load_file(str(saved)))
    assert round(tr.evaluate(net, test[0], test[1], bf16=TINY.arms["cnn"].bf16), 4) == row["test_accuracy"]


def test_the_command_writes_the_csv_contract_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setattr(hu, "CPU", TINY)
    out = tmp_path / "h.csv"
    argv = ["--cpu", "--sizes", "30", "--jobs", "1", "--cache", str(tmp_path / "c"), "--out", str(out),
            "--weights", str(tmp_path / "w")]
    hu.main(argv)
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == [  # every cell's checkpoint, to ship one
        "cnn-aug8-n30-s0.safetensors", "cnn-n30-s0.safetensors", "vit-aug8-n30-s0.safetensors",
        "vit-n30-s0.safetensors"]
    df = hunger_results.load(out)
    assert tuple(df.columns[:len(hunger_results.COLUMNS)]) == hunger_results.COLUMNS
    assert tuple(df.columns[len(hunger_results.COLUMNS):]) == hunger_results.VIT_COLUMNS
    assert df.transfer_5shot.between(0, 1).all() and df.transfer_25shot.between(0, 1).all()
    assert sorted(zip(df.model, df.augment_px)) == [("cnn", 0), ("cnn", 8), ("vit", 0), ("vit", 8)]
    assert df[df.model == "cnn"].mad_layer_1.isna().all() and df[df.model == "vit"].mad_layer_1.notna().all()
    assert (df.command == "python -m core.experiments hunger --cpu --sizes 30").all()
    first = df.seconds.tolist()
    hu.main(argv)  # resumed: every cell is done, nothing is retrained
    assert hunger_results.load(out).seconds.tolist() == first
    with pytest.raises(SystemExit, match="another command"):
        hu.main(["--cpu", "--sizes", "60", "--jobs", "1", "--cache", str(tmp_path / "c"), "--out", str(out)])


def test_live_run_trains_a_fixed_number_of_steps():
    row = hu.live_run("cnn", 40, steps=3, test=hu.test_set(50))
    assert row["steps"] == 3 and row["train_size"] == 40 and 0 <= row["test_accuracy"] <= 1


def test_convergence_note_counts_the_converged_runs_and_names_the_capped_ones():
    rows = pd.DataFrame([dict(_row("cnn", 250, 0, 0.4), images_seen=80_000),
                         dict(_row("vit", 16000, 0, 0.77, converged=False), images_seen=1_280_000),
                         dict(_row("vit", 16000, 0, 0.85, aug=8), images_seen=400_000)])
    note = str(hr.convergence_note(rows, planned=5))
    assert note.startswith("2 of 3 runs converged")
    assert "left out of every reading: vit at N = 16k (1,280k images seen)." in note
    assert "2 of its 5 runs are not in the file yet" in note
    assert "1 of its 4 runs is not in the file yet" in str(hr.convergence_note(rows, planned=4))
    assert "cap" not in str(hr.convergence_note(rows.iloc[[0, 2]], planned=2))


def test_other_seeds_train_with_the_configuration_seed_0_chose(tmp_path, monkeypatch):
    configs = ((1e-4, 0.05), (3e-2, 0.05))
    grid = replace(TINY, seeds=2, augments=(0,), arms={m: replace(a, configs=configs) for m, a in TINY.arms.items()})
    monkeypatch.setattr(hu, "CPU", grid)
    out = tmp_path / "h.csv"
    hu.main(["--cpu", "--sizes", "30", "--models", "cnn", "--jobs", "2", "--cache", str(tmp_path / "c"),
             "--out", str(out)])
    df = hunger_results.load(out).set_index("seed")
    assert sorted(df.index) == [0, 1] and df.loc[0, "lr"] in {c[0] for c in configs}
    assert (df.loc[1, "lr"], df.loc[1, "weight_decay"]) == (df.loc[0, "lr"], df.loc[0, "weight_decay"])
    assert hu.configs_for(("cnn", 30, 1, 0), grid, []) is None  # waits while seed 0 is not done
    assert hu.configs_for(("cnn", 30, 0, 0), grid, []) == list(configs)


def test_more_seeds_run_only_at_their_sizes_and_the_method_says_so(tmp_path, monkeypatch):
    grid = replace(TINY, augments=(0,), more_seeds=((30, 2),))
    assert [c for c in grid.cells(("cnn",))] == [("cnn", 30, 0, 0), ("cnn", 60, 0, 0), ("cnn", 30, 1, 0)]
    monkeypatch.setattr(hu, "CPU", grid)
    out = tmp_path / "h.csv"
    hu.main(["--cpu", "--models", "cnn", "--jobs", "1", "--cache", str(tmp_path / "c"), "--out", str(out)])
    df = hunger_results.load(out)
    assert sorted(zip(df.train_size, df.seed)) == [(30, 0), (30, 1), (60, 0)]
    assert "1 seed, 2 at N = 30, each drawing" in str(hr.method(df))
    assert "1 seed, each drawing" in str(hr.method(df[df.seed == 0]))


def test_markdown_table_by_series_and_n():
    rows = [_row("vit", 250, 0, 0.30, 0.9), _row("vit", 250, 1, 0.40, 1.0), _row("cnn", 1000, 0, 0.812, 1.0)]
    assert hunger_results.markdown_table(rows).splitlines() == [
        "| series | N = 250 | N = 1k |", "|---|---|---|",
        "| cnn |  | 81.2% (100%) |", "| vit | 35.0% ± 7.1 (95%) |  |"]  # std of 30 and 40: 5·√2


def test_against_the_papers_follows_who_is_ahead():
    cnn_ahead = [_row("cnn", 250, 0, 0.6), _row("vit", 250, 0, 0.3), _row("cnn", 16000, 0, 0.99),
                 _row("vit", 16000, 0, 0.8)]
    assert "The CNN is ahead at every N measured, up to 16k" in str(hr.against_the_papers(cnn_ahead))
    vit_ahead = cnn_ahead[:3] + [_row("vit", 16000, 0, 0.995)]
    assert "The ViT is ahead at N = 16k." in str(hr.against_the_papers(vit_ahead))
    # the ViT ahead only where both are poor, the CNN memorising there; the CNN ahead from 4k on
    small = [_row("cnn", 250, 0, 0.12, 1.0), _row("vit", 250, 0, 0.18, 0.6), _row("cnn", 1000, 0, 0.20, 1.0),
             _row("vit", 1000, 0, 0.34, 0.9), _row("cnn", 4000, 0, 0.96), _row("vit", 4000, 0, 0.62)]
    text = str(hr.against_the_papers(small))
    assert "Without augmentation, the ViT is ahead only at the smallest sizes (N = 250, 1k)" in text
    assert "(ViT 18%–34%, CNN 12%–20%)" in text and "100 % training accuracy at N = 250, 1k" in text
    assert "From N = 4k on the CNN is ahead (96.0% against 62.0% at N = 4k)" in text


def _vit_rows(mads_small, mads_large, loc_small, loc_large):
    rows = []
    for n, mads, loc in ((250, mads_small, loc_small), (16000, mads_large, loc_large)):
        rows.append(dict(_row("vit", n, 0, 0.5), **{f"mad_layer_{i + 1}": d for i, d in enumerate(mads)},
                         pos_embed_locality=loc))
    return pd.DataFrame(rows)


def test_vit_learning_reading_says_whether_locality_emerged():
    flat = str(hr.vit_learning_reading(_vit_rows([32, 32, 31], [31, 30, 31], 0.01, 0.09), uniform_px=32.6))
    assert "layer 1's mean attention distance is 32.0 px at N = 250 and 31.0 px at N = 16k" in flat
    assert "the layers span 30.0–31.0 px, against 32.6 px for uniform" in flat
    assert "neither has emerged here" in flat and "+0.01 to +0.09" in flat
    local = str(hr.vit_learning_reading(_vit_rows([32, 32, 31], [12, 25, 31], 0.01, 0.6), uniform_px=32.6))
    assert "some locality has emerged: the most local layer attends at 12.0 px, 63% closer than uniform; the " \
           "position embeddings reach a locality of +0.60." in local


def test_device_phrase():
    assert str(wording.device_phrase("cuda:NVIDIA H200")) == "an NVIDIA H200 GPU"
    assert str(wording.device_phrase("cpu:1 thread(s)")) == "a CPU, 1 thread per run"
    assert str(wording.device_phrase("cpu:4 thread(s)")) == "a CPU, 4 threads per run"
    assert wording.device_phrase("cpu:4 thread(s)").text("zh") == "CPU（每次训练 4 个线程）"
    # a grid resumed with another number of jobs: the rows' column, as a range (not the first row's count)
    assert str(wording.device_phrase(["cpu:1 thread(s)", "cpu:2 thread(s)", "cpu:1 thread(s)"])) == \
        "a CPU, 1–2 threads per run"
    assert str(wording.device_phrase(["cpu:1 thread(s)"] * 3)) == "a CPU, 1 thread per run"


def test_the_readings_in_chinese_carry_the_same_numbers_and_verdicts():
    rows = [_row("cnn", 250, 0, 0.40), _row("cnn", 1000, 0, 0.80), _row("cnn", 4000, 0, 0.92, 0.95),
            _row("vit", 250, 0, 0.50, 0.6), _row("vit", 1000, 0, 0.75), _row("vit", 4000, 0, 0.96, 0.97),
            _row("vit", 250, 0, 0.65, 0.6, aug=8)]
    zh = hr.reading(rows).text("zh")
    assert zh.startswith("CNN 和 ViT 的曲线在 N = 250 与 1k 之间、N = 1k 与 4k 之间相交。")
    assert "在 N = 250 时为 -10.0 个百分点，在 N = 4k 时为 -4.0" in zh
    assert "：cnn 所需图像数在 1k 到 4k 之间；vit 所需图像数在 1k 到 4k 之间；vit + 平移增强 到 N = 250 仍未达到。" in zh
    assert "在 N = 250 时，cnn 拟合了训练图像（训练准确率 ≥ 99%），在新图像上却只有 40%：这是死记硬背。" in zh
    assert set(re.findall(r"[A-Za-z]{3,}", zh)) == {"CNN", "ViT", "cnn", "vit"}  # no English word left
    assert hr.augmentation_effect(rows).text("zh") == "平移增强对测试准确率的影响（百分点）：vit：N = 250 时 +15.0。"
    flat = hr.vit_learning_reading(_vit_rows([32, 32, 31], [31, 30, 31], 0.01, 0.09), uniform_px=32.6).text("zh")
    assert "各层介于 30.0–31.0 px 之间，而均匀注意力为 32.6 px" in flat and "从 +0.01 变为 +0.09" in flat
    assert "这两种结构在这里都还没有出现" in flat
    local = hr.vit_learning_reading(_vit_rows([32, 32, 31], [12, 25, 31], 0.01, 0.6), uniform_px=32.6).text("zh")
    assert local.endswith("到 N = 16k 时已出现一定的局部性：最局部的一层注意力距离为 12.0 px，比均匀注意力近 63%；"
                          "位置嵌入的局部性达到 +0.60。")
    small = [_row("cnn", 250, 0, 0.12, 1.0), _row("vit", 250, 0, 0.18, 0.6), _row("cnn", 1000, 0, 0.20, 1.0),
             _row("vit", 1000, 0, 0.34, 0.9), _row("cnn", 4000, 0, 0.96), _row("vit", 4000, 0, 0.62)]
    papers = hr.against_the_papers(small).text("zh")
    assert "ViT 只在最小的几个规模上领先（N = 250、1k）" in papers and "（ViT 18%–34%，CNN 12%–20%）" in papers
    assert "从 N = 4k 起 CNN 领先（N = 4k 时 96.0% 对 62.0%）" in papers


def test_a_capped_run_is_never_read_as_a_result():
    """The same rows with the ViT's 16k run marked as having hit its cap: it leaves every reading (and the table
    shows it as a lower bound), instead of being compared with the CNN."""
    rows = [_row("cnn", 250, 0, 0.40), _row("cnn", 16000, 0, 0.99), _row("vit", 250, 0, 0.30),
            _row("vit", 16000, 0, 0.999)]
    assert "The ViT is ahead at N = 16k." in str(hr.against_the_papers(rows))
    rows[3]["converged"] = False
    assert 16000 not in hunger_results.summary(rows)["vit"]
    assert "The CNN is ahead at every N measured, up to 250" in str(hr.against_the_papers(rows))
    assert hunger_results.markdown_table(rows).splitlines()[-1] == "| vit | 30.0% (100%) | ≥ 99.9% (cap) |"
    assert hr.vit_learning_reading(_vit_rows([32], [31], 0.0, 0.0).assign(converged=False), 32.6) is None


def test_the_transfer_reading_compares_the_architectures_at_sizes_both_converged_at():
    rows = pd.DataFrame([dict(_row(m, n, 0, 0.5), transfer_25shot=acc) for m, n, acc in
                         (("cnn", 1000, 0.40), ("cnn", 16000, 0.70), ("vit", 1000, 0.30), ("vit", 16000, 0.80))])
    embedded = pd.DataFrame([{"model": "cnn", "train_size": 60000, "transfer_25shot": 0.75},
                             {"model": "vit", "train_size": 60000, "transfer_25shot": 0.9}])
    text = str(hr.transfer_reading(rows, embedded))
    assert "cnn 40% at N = 1k and 70% at N = 16k; vit 30% at N = 1k and 80% at N = 16k" in text
    assert "The ViT's features transfer better at N = 16k, the CNN's at N = 1k." in text
    assert "trained on 60k images: cnn 75%, vit 90%" in text
    rows.loc[3, "converged"] = False  # the ViT's 16k run capped: only 1k is compared
    assert "The CNN's features transfer better at every N both converged at (1k)." in str(hr.transfer_reading(rows))
    zh = hr.transfer_reading(rows, embedded).text("zh")
    assert "CNN 的特征迁移得更好" in zh and "cnn 75%，vit 90%" in zh


def test_one_size_is_read_as_one_size_and_a_model_right_on_new_images_has_not_memorised():
    rows = [_row("cnn", 1000, 0, 0.224), _row("vit", 1000, 0, 0.408), _row("vit", 1000, 0, 0.992, aug=8)]
    text = str(hr.reading(rows))
    assert text.startswith("At N = 1k, the one size both have converged at so far, the **ViT beats the CNN**.")
    assert "-18.4 points: the CNN scores 22.4%, the ViT 40.8%" in text and "from 1k to 1k" not in text
    assert "cnn and vit fit their training images" in text and "22%, 41% on new ones" in text  # not vit + aug
    assert "vit + shift aug fit" not in text
    zh = hr.reading(rows).text("zh")
    assert zh.startswith("在 N = 1k（目前两者都已收敛的唯一规模）时，**ViT 胜过 CNN**。")


def test_the_augmented_series_get_their_own_verdict_against_the_textbook():
    rows = [_row("cnn", 1000, 0, 0.224), _row("vit", 1000, 0, 0.408), _row("cnn", 1000, 0, 0.754, aug=8),
            _row("vit", 1000, 0, 0.992, aug=8), _row("cnn", 4000, 0, 0.99, aug=8), _row("vit", 4000, 0, 0.98, aug=8)]
    text = str(hr.against_the_papers(rows))
    assert "**With shift augmentation the ViT is ahead** at N = 1k (99.2% against 75.4% at N = 1k)" in text
    assert "contradicts the textbook" in text
    rows[3]["test_accuracy"] = 0.5
    assert "With shift augmentation too the CNN is ahead at every N both converged at (up to 4k)." in str(
        hr.against_the_papers(rows))
    assert "使用平移增强时，在两者都收敛的每个 N 上（直到 4k）也是 CNN 领先。" in hr.against_the_papers(rows).text("zh")


def test_the_results_file_reads_without_torch():
    """core.experiments.hunger_results is what a page imports to read the rows: it stays free of torch."""
    code = "import sys, core.experiments.hunger_results as r; r.load(); assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
