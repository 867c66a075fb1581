"""The data page through Streamlit's AppTest: shipped curves, their reading, and a live run end to end."""
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from core import attention as att
from core import shapes
from core.experiments import hunger_reading as hr
from core.experiments import hunger_results
from core.experiments import pretraining
from core.experiments import transfer
from core.experiments.hunger import live_seconds
from core.experiments.positions import centre_reading
from ui import data_views

PHONE = 390 - 2 * 16  # the width of a 390-px phone's page inside Streamlit's padding
AXES = 100  # px beside a position map for its axis labels and title

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "data.py")


def _hunger_rows():
    """A hand-made results file in the shipped format: four series at three sizes, the ViT's largest run capped."""
    rows = []
    acc = {("cnn", 0): (0.30, 0.90, 0.99), ("cnn", 8): (0.35, 0.93, 0.99), ("vit", 0): (0.25, 0.60, 0.85),
           ("vit", 8): (0.28, 0.70, 0.92)}
    for (model, aug), accs in acc.items():
        for n, a in zip((250, 2000, 16000), accs):
            row = dict.fromkeys(hunger_results.COLUMNS + hunger_results.VIT_COLUMNS, None)
            row.update(model=model, train_size=n, seed=0, augment_px=aug, converged=not (model == "vit" and n == 16000
                                                                                          and aug == 0),
                       images_seen=200_000, steps=1000, best_step=900, lr=1e-3, weight_decay=0.05,
                       train_accuracy=min(1.0, a + 0.1), val_accuracy=a, test_accuracy=a, transfer_5shot=a / 2,
                       transfer_25shot=a / 1.5, seconds=100.0, device="cpu:1 thread(s)",
                       command="python -m core.experiments hunger --cpu")
            if model == "vit":
                row.update({f"mad_layer_{i}": 30.0 - i - n / 4000 for i in range(1, 7)},
                           pos_embed_locality=0.05, pos_embed_learnt_locality=0.2 + n / 40000)
            rows.append(row)
    return pd.DataFrame(rows)


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """The data page reading the hand-made results instead of whatever the grid has written so far."""
    path = tmp_path / "data_hunger.csv"
    _hunger_rows().to_csv(path, index=False)
    monkeypatch.setattr(hunger_results, "HUNGER_FILE", path)
    return hunger_results.load(path)


@pytest.fixture
def page(shipped):
    at = AppTest.from_file(PAGE, default_timeout=120)
    return at.run()


def test_data_page_reads_the_shipped_curves(page, shipped):
    assert not page.exception
    readings = [i.value for i in page.info if i.value.startswith(str(hr.reading(shipped)))]
    assert readings, "the sentences reading the data-hunger curves are missing"
    assert any(m.value == str(hr.method(shipped)) for m in page.markdown)
    note = [c.value for c in page.caption if c.value.startswith("11 of 12 runs converged")]
    # the CPU grid: 6 sizes x 4 series, and a second seed of the 4 series at N = 1k
    assert note and "vit at N = 16k (200k images seen)" in note[0] and "16 of its 28 runs" in note[0]
    # the capped ViT run at 16k is no result: the readings compare the sizes both converged at
    assert "from 250 to 2k" in readings[0] and "0.85" not in readings[0] and "85.0%" not in readings[0]
    uniform = att.uniform_attention_distance(8, 8, 1)  # the embedded ViT: 8x8 patches of 8 px and a class token
    assert any(i.value == str(hr.vit_learning_reading(shipped, uniform)) for i in page.info)
    reading = str(hr.transfer_reading(shipped, transfer.load_embedded()))
    assert any(i.value == reading for i in page.info) and "vit 17% at N = 250 and 40% at N = 2k" in reading


def test_the_data_page_in_chinese_reads_the_same_numbers(shipped):
    page = AppTest.from_file(PAGE, default_timeout=120)
    page.query_params["lang"] = "zh"
    page.run()
    assert not page.exception
    uniform = att.uniform_attention_distance(8, 8, 1)
    assert page.title[0].value == "ViT 需要更多数据吗？"
    assert any(i.value.startswith(hr.reading(shipped).text("zh")) for i in page.info)
    assert any(i.value == hr.vit_learning_reading(shipped, uniform).text("zh") for i in page.info)
    assert any(m.value == hr.method(shipped).text("zh") for m in page.markdown)
    assert any(c.value.startswith("12 次训练中有 11 次已收敛") for c in page.caption)


def test_the_page_opens_on_whatever_the_grid_has_written_so_far():
    page = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not page.exception


def test_the_centre_reading_names_the_model_that_loses_more():
    cnn_worse = centre_reading({"cnn-center": (0.95, 0.40), "vit-center": (0.90, 0.70)})
    assert cnn_worse.key == "data.centre.cnn_loses_more"
    assert str(cnn_worse).startswith("Away from the centre the centre-trained CNN falls from 95% to 40% and the "
                                     "centre-trained ViT only from 90% to 70%: the reverse")
    assert cnn_worse.text("zh").startswith("离开中央后，只在中央训练的 CNN 准确率从 95% 降到 40%，而只在中央训练的 "
                                           "ViT 仅从 90% 降到 70%：这与教科书")
    vit_worse = centre_reading({"cnn-center": (0.95, 0.90), "vit-center": (0.90, 0.50)})
    assert vit_worse.key == "data.centre.vit_loses_more"
    assert vit_worse.text("zh").startswith("离开中央后，只在中央训练的 ViT 准确率从 90% 降到 50%，而只在中央训练的 "
                                           "CNN 仅从 95% 降到 90%，与教科书的预期一致")


def test_a_live_run_trains_and_adds_its_point(page):
    page.multiselect(key="live_sizes").set_value([250])
    page.multiselect(key="live_models").set_value(["cnn"])
    page.select_slider(key="live_steps").set_value(25)
    page.run()
    page.button(key="live_train").click()
    page.run()
    assert not page.exception
    rows = page.session_state["live_hunger"]["rows"]
    assert [(r["model"], r["train_size"], r["steps"]) for r in rows] == [("cnn", 250, 25)]
    assert page.session_state["live_hunger"]["queue"] == []
    assert 0 <= rows[0]["test_accuracy"] <= 1 and 0 <= rows[0]["train_accuracy"] <= 1
    assert page.session_state["live_hunger_open"]  # the panel stays open from now on
    assert page.button(key="live_clear")  # the point can be cleared again
    page.button(key="live_clear").click()
    page.run()
    assert page.session_state["live_hunger"]["rows"] == []


def test_the_live_estimate_counts_rendering_steps_and_evaluation():
    rates = {"render": 0.001, "step": {"cnn": 0.1, "vit": 0.3}, "eval": {"cnn": 0.002, "vit": 0.003}}
    # cnn at N = 250 for 25 steps: one 2,000-image chunk rendered, 25 steps, 2,000 test + 250 training images
    # evaluated; vit at N = 2,500 for 10 steps: two chunks, 10 steps, 2,000 + 2,000 images
    expected = (2.0 + 2.5 + 0.002 * 2250) + (4.0 + 3.0 + 0.003 * 4000)
    assert live_seconds([("cnn", 250, 25), ("vit", 2_500, 10)], rates) == pytest.approx(expected)


def test_the_transfer_runs_are_shown_with_gains_computed_from_the_csv(shipped, tmp_path, monkeypatch):
    rows = pd.DataFrame([{"model": m, "init": i, "target_size": n, "seed": 0, "converged": not (n == 500 and
                                                                                                 i == "scratch"),
                          "images_seen": 50_000, "train_accuracy": 1.0, "val_accuracy": a, "test_accuracy": a,
                          "best_step": 10, "steps": 20, "seconds": 5.0, "device": "cpu:1 thread(s)",
                          "command": "python -m core.experiments pretraining"}
                         for m, base in (("cnn", 0.5), ("vit", 0.3)) for n in (50, 500)
                         for i, a in (("scratch", base), ("finetune", base + 0.3), ("linear", base + 0.2))])
    rows.to_csv(tmp_path / "pretraining.csv", index=False)
    (tmp_path / "ckpt").mkdir()
    for m in ("cnn", "vit"):
        (tmp_path / "ckpt" / f"{m}.json").write_text(json.dumps(pretraining.source_info(m)))
    monkeypatch.setattr(pretraining, "PRETRAINING_FILE", tmp_path / "pretraining.csv")
    monkeypatch.setattr(pretraining, "CHECKPOINTS", tmp_path / "ckpt")
    page = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not page.exception
    assert any(s.value == "Pre-train large, fine-tune small" for s in page.subheader)
    info = " ".join(i.value for i in page.info)
    # by hand: at N = 50 scratch 50 % -> fine-tuned 80 % (cnn), 30 % -> 60 % (vit); the capped scratch runs at
    # N = 500 leave that size out of the gains
    assert "for cnn from 50% to 80% (+30 points); for vit from 30% to 60% (+30 points)" in info, info
    assert "At N = 500, fine-tuning" not in info
    assert "10 of 12 runs converged" in " ".join(m.value for m in page.markdown)
    assert "did not learn" not in info and "below 90%" not in info  # the embedded checkpoints learnt their task
    assert len(page.get("vega_lite_chart")) >= 7  # positions (2), data hunger, k-shot, ViT learning (2), transfer
    monkeypatch.setattr(pretraining, "PRETRAINING_FILE", Path("/nonexistent/pretraining.csv"))
    bare = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not bare.exception and not any(s.value == "Pre-train large, fine-tune small" for s in bare.subheader)


def test_the_title_asks_and_the_answer_follows_a_csv_in_which_the_cnn_wins_at_small_n(page):
    # the hand-made file: the CNN ahead at 250 and 2k (the ViT's 16k run is capped, so never read)
    assert page.title[0].value == "Do ViTs need more data?"
    answer = page.markdown[0].value
    assert answer.startswith("**Yes, on this task: without augmentation the CNN is ahead at every N measured "
                             "(250–2k).")
    assert not any(s.value == "Is it this CNN?" for s in page.subheader)  # no variant runs in this file


def test_a_results_file_rewritten_in_place_is_read_again(shipped):
    """The rows and their readings are kept once per version of the file (its size and modification time), so the
    grid writing new rows to the same file changes the page: here the ViT is made ahead of the CNN at every N."""
    first = AppTest.from_file(PAGE, default_timeout=120).run()
    assert first.markdown[0].value.startswith("**Yes, on this task:")
    rows = _hunger_rows()
    vit = (rows.model == "vit") & (rows.augment_px == 0)
    rows.loc[vit, "test_accuracy"] = rows.loc[vit, "train_size"].map({250: 0.45, 2000: 0.95, 16000: 0.97})
    rows.to_csv(hunger_results.HUNGER_FILE, index=False)  # the same path as the first run read
    again = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not again.exception
    assert again.markdown[0].value.startswith("**No, on this task: without augmentation the ViT is ahead at every N "
                                              "measured (250–2k).")
    assert any(i.value.startswith("The **ViT beats the CNN at every N** measured") for i in again.info)


def test_the_variants_section_sets_them_beside_the_shipped_series(shipped, tmp_path, monkeypatch):
    rows = _hunger_rows()
    variant = rows[(rows.model == "cnn") & (rows.augment_px == 0) & (rows.train_size == 2000)].assign(
        model="cnn-cifar", test_accuracy=0.75)  # the shipped CNN (90 %) is ahead of the ViT (60 %) there
    path = tmp_path / "with_variants.csv"
    pd.concat([rows, variant]).to_csv(path, index=False)
    monkeypatch.setattr(hunger_results, "HUNGER_FILE", path)
    page = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not page.exception
    assert any(s.value == "Is it this CNN?" for s in page.subheader)
    assert any(i.value.startswith("The shipped CNN is ahead of the ViT at every size the variants ran (N = 2k).")
               for i in page.info)
    table = [d.value for d in page.table if "last map / token grid" in d.value.columns]
    assert table and list(table[0]["last map / token grid"]) == ["2×2", "8×8", "8×8"]  # cnn, vit, cnn-cifar
    assert list(table[0]["model"]) == ["shipped CNN", "shipped ViT", "CNN with CIFAR stem"]
    sizes = [d.value for d in page.table if "MFLOPs per image" in d.value.columns]
    assert sizes and list(sizes[0]["model"]) == list(table[0]["model"])
    assert any("**CNN with CIFAR stem**: the stem small-image papers use" in m.value for m in page.markdown)
    # the main chart's reading counts only the two series' runs
    assert any(c.value.startswith("11 of 12 runs converged") for c in page.caption)


def test_every_chart_fits_a_phone(page):
    """No chart keeps a width wider than a phone's page: every chart takes its container's width (a facet or a row of
    panels would keep theirs), except the position maps, square charts of their own that wrap into rows, each narrow
    enough for a phone at the default 8-px cells."""
    charts = [json.loads(c.proto.spec) for c in page.get("vega_lite_chart")]
    assert len(charts) >= 12  # four maps, distance, accuracy, two k-shot, two attention distance, locality
    assert not [s for s in charts if {"facet", "hconcat", "vconcat", "concat"} & set(s)]
    maps = [s for s in charts if isinstance(s.get("width"), dict)]
    assert len(maps) == 4 and all(m["width"] == m["height"] for m in maps)  # square cells
    assert all(m["width"]["step"] * shapes.CANVAS / 8 + AXES <= PHONE for m in maps)
    assert not [s for s in charts if isinstance(s.get("width"), (int, float))]


def test_the_baseline_is_uniform_attention_on_the_grids_vit():
    # the grid's ViT: a 64-px canvas in 8x8 patches of 8 px, and a class token
    assert data_views.grid_vit_uniform() == pytest.approx(att.uniform_attention_distance(8, 8, 1))


def _accuracy_rows(page) -> pd.DataFrame:
    """The rows the accuracy-against-N chart draws (its data come as Arrow datasets)."""
    for chart in page.get("vega_lite_chart"):
        for d in chart.proto.datasets:
            rows = pa.ipc.open_stream(d.data.data).read_all().to_pandas()
            if {"metric", "accuracy", "train_size"} <= set(rows.columns):
                return rows
    raise AssertionError("no accuracy chart")


def test_the_charts_follow_the_results_file_and_the_cell_size(page, tmp_path, monkeypatch):
    """Charts are made once per input and shared by every session: a results file with other numbers, opened by
    another session, draws its own numbers, and another cell size draws other maps."""
    cnn_250 = lambda rows: sorted(rows[(rows.label == "cnn") & (rows.train_size == 250)].accuracy)  # noqa: E731
    assert cnn_250(_accuracy_rows(page)) == [0.30, 0.40]  # test and training accuracy in the hand-made file
    rows = _hunger_rows()
    rows.loc[(rows.model == "cnn") & (rows.augment_px == 0) & (rows.train_size == 250),
             ["test_accuracy", "train_accuracy"]] = [0.55, 0.65]
    path = tmp_path / "other.csv"
    rows.to_csv(path, index=False)
    monkeypatch.setattr(hunger_results, "HUNGER_FILE", path)
    other = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not other.exception and cnn_250(_accuracy_rows(other)) == [0.55, 0.65]

    def map_steps(at):
        return [json.loads(c.proto.spec)["width"]["step"] for c in at.get("vega_lite_chart")
                if isinstance(json.loads(c.proto.spec).get("width"), dict)]

    assert map_steps(other) == [data_views.HEATMAP_PX * 8 / shapes.CANVAS] * 4  # the default 8-px cells
    other.select_slider(key="cell").set_value(16).run()
    assert map_steps(other) == [data_views.HEATMAP_PX * 16 / shapes.CANVAS] * 4
