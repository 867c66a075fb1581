"""The data-hunger experiment (core.hunger) on tiny settings, against hand-computed facts."""
import hashlib
import math
import re
from dataclasses import replace

import pytest
import torch

from core import attention as at
from core import hunger as hu
from core import train as tr

TINY = replace(hu.QUICK, sizes=(30, 60), val_size=40, test_size=50,
               budget=hu.Budget(batch=16, epochs=1, min_steps=2, max_steps=4, checks=2))


def _digests(images):
    return {hashlib.sha1(img.numpy().tobytes()).hexdigest() for img in images}


def test_budget_grows_with_n_between_its_bounds():
    b = hu.Budget(batch=100, epochs=10, min_steps=50, max_steps=400)
    assert [b.steps(n) for n in (100, 500, 1_000, 3_000, 100_000)] == [50, 50, 100, 300, 400]


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
    got = at.mean_attention_distance(attn, grid, patch, prefix)
    assert got.shape == (3, 2) and torch.allclose(got, torch.full((3, 2), expected, dtype=torch.float64))
    assert at.uniform_attention_distance(grid, patch, prefix) == pytest.approx(expected)


def _vit_with_pos_embed(values):
    from core.models import build_embedded

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
    assert at.pos_embed_locality(_vit_with_pos_embed(smooth)) > 0.8
    assert at.pos_embed_locality(_vit_with_pos_embed(-smooth.flip(0))) > 0.8  # any smooth layout, not one
    noise = torch.randn(64, 96, generator=torch.Generator().manual_seed(1))
    assert abs(at.pos_embed_locality(_vit_with_pos_embed(noise))) < 0.1


def test_crossings_are_brackets_of_measured_sizes():
    assert hu.crossings([100, 1000], [0.5, 0.9], [0.6, 0.6]) == [(100, 1000)]
    assert hu.crossings([100, 1000, 10000], [0.5, 0.6, 0.9], [0.6, 0.6, 0.8]) == [(100, 10000)]  # a tie between
    assert hu.crossings([100, 1000, 10000], [0.7, 0.6, 0.9], [0.6, 0.6, 0.8]) == []  # touches, no crossing
    assert hu.crossings([1, 10, 100, 1000], [1, 0, 1, 0], [0, 1, 0, 1]) == [(1, 10), (10, 100), (100, 1000)]


def test_size_to_reach_brackets_the_target():
    curve = {250: (0.5,), 1000: (0.88,), 4000: (0.93,), 16000: (0.97,)}
    assert hu.size_to_reach(curve, 0.9) == (1000, 4000)
    assert hu.size_to_reach(curve, 0.95) == (4000, 16000)
    assert hu.size_to_reach(curve, 0.4) == (None, 250)
    assert hu.size_to_reach(curve, 0.99) == (16000, None)
    assert str(hu.reach_phrase(curve, 0.9)) == "needs between 1k and 4k images"
    assert str(hu.reach_phrase(curve, 0.99)) == "does not reach it by N = 16k"


def _row(model, n, seed, test, train=1.0, aug=0):
    return {"model": model, "train_size": n, "seed": seed, "augment_px": aug, "test_accuracy": test,
            "train_accuracy": train}


def test_summary_is_the_mean_and_sample_std_over_seeds():
    rows = [_row("vit", 250, s, a) for s, a in enumerate([0.5, 0.7])] + [_row("vit", 250, 0, 0.9, aug=8)]
    out = hu.summary(rows)
    mean, std, runs = out["vit"][250]
    assert mean == pytest.approx(0.6) and std == pytest.approx(0.1 * 2 ** 0.5) and runs == 2
    assert out["vit + shift aug"][250] == (0.9, 0.0, 1)


def test_reading_names_the_crossing_bracket_the_sizes_to_90_and_memorisation():
    rows = [_row("cnn", 250, 0, 0.40), _row("cnn", 1000, 0, 0.80), _row("cnn", 4000, 0, 0.92, 0.95),
            _row("vit", 250, 0, 0.30, 0.6), _row("vit", 1000, 0, 0.85), _row("vit", 4000, 0, 0.96, 0.97)]
    text = str(hu.reading(rows))
    assert "cross between N = 250 and 1k" in text
    assert "+10.0 points at N = 250 and -4.0 at N = 4k" in text
    assert "cnn needs between 1k and 4k images" in text and "vit needs between 1k and 4k images" in text
    assert "At N = 250 cnn fit its training images" in text and "40% on new ones" in text
    ahead = str(hu.reading([_row("cnn", 250, 0, 0.6, 0.5), _row("cnn", 500, 0, 0.7, 0.5),
                        _row("vit", 250, 0, 0.3, 0.5), _row("vit", 500, 0, 0.5, 0.5)]))
    assert "CNN beats the ViT at every N" in ahead and "memorisation" not in ahead
    assert "cnn does not reach it by N = 500" in ahead


def test_augmentation_effect_per_architecture():
    rows = [_row("cnn", 250, 0, 0.5), _row("cnn", 250, 0, 0.6, aug=8), _row("vit", 250, 0, 0.3),
            _row("vit", 250, 0, 0.45, aug=8)]
    assert str(hu.augmentation_effect(rows)) == ("Shift augmentation changes test accuracy by (points) "
                                            "cnn: +10.0 at N = 250; vit: +15.0 at N = 250.")


def test_run_cell_reports_a_validation_selected_row():
    row = hu.run_cell("vit", 30, 0, 4, TINY, test=hu.test_set(50), probe=hu.probe_set()[:8])
    assert 1 <= row["best_step"] <= row["steps"] == 2  # ceil(1 epoch x 30 / 16), within [2, 4]
    for k in ("train_accuracy", "val_accuracy", "test_accuracy"):
        assert 0 <= row[k] <= 1
    assert row["device"].startswith("cpu") and (row["lr"], row["weight_decay"]) == (TINY.lrs[0], TINY.weight_decays[0])
    mads = [row[f"mad_layer_{i}"] for i in range(1, 7)]
    assert all(0 < d < 64 * math.sqrt(2) for d in mads) and -1 <= row["pos_embed_locality"] <= 1


def test_the_command_writes_the_csv_contract_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setattr(hu, "QUICK", TINY)
    out = tmp_path / "h.csv"
    argv = ["--quick", "--sizes", "30", "--jobs", "1", "--cache", str(tmp_path / "c"), "--out", str(out)]
    hu.main(argv)
    df = hu.load(out)
    assert tuple(df.columns[:len(hu.COLUMNS)]) == hu.COLUMNS
    assert [c for c in df.columns[len(hu.COLUMNS):]] == [f"mad_layer_{i}" for i in range(1, 7)] + ["pos_embed_locality"]
    assert sorted(zip(df.model, df.augment_px)) == [("cnn", 0), ("cnn", 8), ("vit", 0), ("vit", 8)]
    assert df[df.model == "cnn"].mad_layer_1.isna().all() and df[df.model == "vit"].mad_layer_1.notna().all()
    assert (df.command == "python -m core.experiments hunger --quick --sizes 30 --out " + str(out)).all()
    first = df.seconds.tolist()
    hu.main(argv)  # resumed: every cell is done, nothing is retrained
    assert hu.load(out).seconds.tolist() == first
    with pytest.raises(SystemExit, match="another command"):
        hu.main(["--quick", "--sizes", "60", "--jobs", "1", "--cache", str(tmp_path / "c"), "--out", str(out)])


def test_live_run_trains_a_fixed_number_of_steps():
    row = hu.live_run("cnn", 40, steps=3, test=hu.test_set(50))
    assert row["steps"] == 3 and row["train_size"] == 40 and 0 <= row["test_accuracy"] <= 1


def test_convergence_note_names_the_runs_short_of_steps_not_of_data():
    import pandas as pd

    rows = pd.DataFrame([dict(_row("cnn", 250, 0, 0.4, 1.0), best_step=400, steps=500),
                         dict(_row("vit", 250, 0, 0.18, 0.64), best_step=124, steps=500),  # peaked early: data
                         dict(_row("vit", 16000, 0, 0.77, 0.83), best_step=1750, steps=2000),
                         dict(_row("vit", 16000, 0, 0.85, 0.85, aug=8), best_step=1875, steps=2000)])
    note = str(hu.convergence_note(rows))
    assert note.startswith("2 of 4 runs were still improving") and "vit at N = 16k: 83% training accuracy" in note
    assert "vit + shift aug at N = 16k: 85%" in note and "N = 250" not in note
    assert str(hu.convergence_note(rows.iloc[:2])).startswith("No run was still improving")


def test_other_seeds_train_with_the_configuration_seed_0_chose(tmp_path, monkeypatch):
    grid = replace(TINY, seeds=2, augments=(0,), lrs=(1e-4, 3e-2))
    monkeypatch.setattr(hu, "QUICK", grid)
    out = tmp_path / "h.csv"
    hu.main(["--quick", "--sizes", "30", "--models", "cnn", "--jobs", "2", "--cache", str(tmp_path / "c"),
             "--out", str(out)])
    df = hu.load(out).set_index("seed")
    assert sorted(df.index) == [0, 1] and df.loc[0, "lr"] in grid.lrs
    assert (df.loc[1, "lr"], df.loc[1, "weight_decay"]) == (df.loc[0, "lr"], df.loc[0, "weight_decay"])
    assert hu.configs_for(("cnn", 30, 1, 0), grid, []) is None  # waits while seed 0 is not done
    assert hu.configs_for(("cnn", 30, 0, 0), grid, []) == grid.configs


def test_markdown_table_by_series_and_n():
    rows = [_row("vit", 250, 0, 0.30, 0.9), _row("vit", 250, 1, 0.40, 1.0), _row("cnn", 1000, 0, 0.812, 1.0)]
    assert hu.markdown_table(rows).splitlines() == [
        "| series | N = 250 | N = 1k |", "|---|---|---|",
        "| cnn |  | 81.2% (100%) |", "| vit | 35.0% (95%) |  |"]


def test_against_the_papers_follows_who_is_ahead():
    cnn_ahead = [_row("cnn", 250, 0, 0.6), _row("vit", 250, 0, 0.3), _row("cnn", 16000, 0, 0.99),
                 _row("vit", 16000, 0, 0.8)]
    assert "The CNN is ahead at every N measured, up to 16k" in str(hu.against_the_papers(cnn_ahead))
    vit_ahead = cnn_ahead[:3] + [_row("vit", 16000, 0, 0.995)]
    assert "The ViT is ahead at N = 16k." in str(hu.against_the_papers(vit_ahead))
    # the ViT ahead only where both are poor, the CNN memorising there; the CNN ahead from 4k on
    small = [_row("cnn", 250, 0, 0.12, 1.0), _row("vit", 250, 0, 0.18, 0.6), _row("cnn", 1000, 0, 0.20, 1.0),
             _row("vit", 1000, 0, 0.34, 0.9), _row("cnn", 4000, 0, 0.96), _row("vit", 4000, 0, 0.62)]
    text = str(hu.against_the_papers(small))
    assert "The ViT is ahead only at the smallest sizes (N = 250, 1k)" in text
    assert "(ViT 18%–34%, CNN 12%–20%)" in text and "100 % training accuracy at N = 250, 1k" in text
    assert "From N = 4k on the CNN is ahead (96.0% against 62.0% at N = 4k)" in text


def _vit_rows(mads_small, mads_large, loc_small, loc_large):
    import pandas as pd

    rows = []
    for n, mads, loc in ((250, mads_small, loc_small), (16000, mads_large, loc_large)):
        rows.append(dict(_row("vit", n, 0, 0.5), **{f"mad_layer_{i + 1}": d for i, d in enumerate(mads)},
                         pos_embed_locality=loc))
    return pd.DataFrame(rows)


def test_vit_learning_reading_says_whether_locality_emerged():
    flat = str(hu.vit_learning_reading(_vit_rows([32, 32, 31], [31, 30, 31], 0.01, 0.09), uniform_px=32.6))
    assert "layer 1's mean attention distance is 32.0 px at N = 250 and 31.0 px at N = 16k" in flat
    assert "the layers span 30.0–31.0 px, against 32.6 px for uniform" in flat
    assert "neither has emerged here" in flat and "+0.01 to +0.09" in flat
    local = str(hu.vit_learning_reading(_vit_rows([32, 32, 31], [12, 25, 31], 0.01, 0.6), uniform_px=32.6))
    assert "some locality has emerged: the most local layer attends at 12.0 px, 63% closer than uniform; the " \
           "position embeddings reach a locality of +0.60." in local


def test_device_phrase():
    assert str(hu.device_phrase("cuda:NVIDIA H200")) == "an NVIDIA H200 GPU"
    assert str(hu.device_phrase("cpu:1 thread(s)")) == "a CPU, 1 thread per run"
    assert str(hu.device_phrase("cpu:4 thread(s)")) == "a CPU, 4 threads per run"
    assert hu.device_phrase("cpu:4 thread(s)").text("zh") == "CPU（每次训练 4 个线程）"


def test_the_readings_in_chinese_carry_the_same_numbers_and_verdicts():
    rows = [_row("cnn", 250, 0, 0.40), _row("cnn", 1000, 0, 0.80), _row("cnn", 4000, 0, 0.92, 0.95),
            _row("vit", 250, 0, 0.50, 0.6), _row("vit", 1000, 0, 0.75), _row("vit", 4000, 0, 0.96, 0.97),
            _row("vit", 250, 0, 0.65, 0.6, aug=8)]
    zh = hu.reading(rows).text("zh")
    assert zh.startswith("CNN 和 ViT 的曲线在 N = 250 与 1k 之间、N = 1k 与 4k 之间相交。")
    assert "在 N = 250 时为 -10.0 个百分点，在 N = 4k 时为 -4.0" in zh
    assert "：cnn 所需图像数在 1k 到 4k 之间；vit 所需图像数在 1k 到 4k 之间；vit + 平移增强 到 N = 250 仍未达到。" in zh
    assert "在 N = 250 时，cnn 拟合了训练图像（训练准确率 ≥ 99%），在新图像上却只有 40%：这是死记硬背。" in zh
    assert set(re.findall(r"[A-Za-z]{3,}", zh)) == {"CNN", "ViT", "cnn", "vit"}  # no English word left
    assert hu.augmentation_effect(rows).text("zh") == "平移增强对测试准确率的影响（百分点）：vit：N = 250 时 +15.0。"
    flat = hu.vit_learning_reading(_vit_rows([32, 32, 31], [31, 30, 31], 0.01, 0.09), uniform_px=32.6).text("zh")
    assert "各层介于 30.0–31.0 px 之间，而均匀注意力为 32.6 px" in flat and "从 +0.01 变为 +0.09" in flat
    assert "这两种结构在这里都还没有出现" in flat
    local = hu.vit_learning_reading(_vit_rows([32, 32, 31], [12, 25, 31], 0.01, 0.6), uniform_px=32.6).text("zh")
    assert local.endswith("到 N = 16k 时已出现一定的局部性：最局部的一层注意力距离为 12.0 px，比均匀注意力近 63%；"
                          "位置嵌入的局部性达到 +0.60。")
    small = [_row("cnn", 250, 0, 0.12, 1.0), _row("vit", 250, 0, 0.18, 0.6), _row("cnn", 1000, 0, 0.20, 1.0),
             _row("vit", 1000, 0, 0.34, 0.9), _row("cnn", 4000, 0, 0.96), _row("vit", 4000, 0, 0.62)]
    papers = hu.against_the_papers(small).text("zh")
    assert "ViT 只在最小的几个规模上领先（N = 250、1k）" in papers and "（ViT 18%–34%，CNN 12%–20%）" in papers
    assert "从 N = 4k 起 CNN 领先（N = 4k 时 96.0% 对 62.0%）" in papers
