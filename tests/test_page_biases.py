"""The bias-by-bias page through Streamlit's AppTest: every section renders, in both languages, and its readings
carry numbers that an independent computation gives."""
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch
from streamlit.testing.v1 import AppTest

from core import biases, shapes
from core.experiments import fourier as fo
from core.models import load_model
from ui.models import OTHER

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "biases.py")


def test_every_section_renders_and_reads_the_measurements():
    page = AppTest.from_file(PAGE, default_timeout=180).run()
    assert not page.exception and not page.warning and not page.error
    titles = [s.value for s in page.subheader]
    assert titles == ["Locality: how far does one output see?", "Weight sharing: what sharing saves",
                      "Hierarchy: do the ViT's layers resemble the CNN's?",
                      "Patches and position embeddings: what the ViT knows about order",
                      "Frequency: which image frequencies each model is sensitive to"]
    info = " ".join(i.value for i in page.info)
    # the CNN's accuracy on the unshuffled probe images, computed here with a plain forward pass
    images, labels, _ = shapes.make_dataset(biases.PROBE_IMAGES, biases.PROBE_SEED, "full")
    cnn = load_model("cnn")
    with torch.no_grad():
        acc = float((cnn.net(cnn.preprocess(images)).argmax(-1) == labels).double().mean())
    assert f"takes the CNN from {acc:.0%}" in info
    n_vit = sum(p.numel() for p in load_model("vit").net.parameters())
    assert f"{n_vit:,} parameters" in info
    assert "A shared 3×3 convolution needs 448 parameters where the same window without sharing needs 1,835,008" in info
    assert len(page.get("vega_lite_chart")) >= 3 and len(page.get("image")) == 5 + 6  # ERF per stage, attention per layer


def test_the_page_in_chinese():
    page = AppTest.from_file(PAGE, default_timeout=180)
    page.query_params["lang"] = "zh"
    page.run()
    assert not page.exception and page.title[0].value == "逐个看归纳偏置"
    assert any("共享的 3×3 卷积只需 448 个参数" in i.value for i in page.info)


def test_a_model_that_cannot_be_loaded_gets_a_message_and_the_page_stops_cleanly():
    page = AppTest.from_file(PAGE, default_timeout=180).run()
    page.selectbox(key="bi-vit").set_value(OTHER).run()
    page.text_input(key="bi-vit-custom").input("no_such_model_at_all").run()
    assert not page.exception and page.error and not page.subheader  # a message, and no section half-drawn


def test_the_frequency_section_reads_the_shipped_heat_maps(tmp_path, monkeypatch):
    f = fo.frequencies()
    radius = np.hypot(*np.meshgrid(f, f))
    # hand-made maps: the cnn errs 50 % on high frequencies only, the vit 30 % on low ones only
    cnn = np.where(radius >= 16, 0.5, 0.02)
    vit = np.where((radius >= 1) & (radius < 8), 0.3, 0.03)
    path = tmp_path / "fourier.npz"
    np.savez(path, frequencies=f, eps=np.array(8.0), images=np.array(128), clean_cnn=np.array(0.02),
             clean_vit=np.array(0.03), error_cnn=cnn, error_vit=vit)
    monkeypatch.setattr(fo, "FOURIER_FILE", path)
    page = AppTest.from_file(PAGE, default_timeout=180).run()
    assert not page.exception
    info = " ".join(i.value for i in page.info)
    assert ("Waves below 8 cycles per image raise the error to 2% (cnn) and 30% (vit); waves of 16 cycles or more "
            "to 50% (cnn) and 3% (vit).") in info
    # the results computed again (the file rewritten): the page reads the new maps, not the ones it read before
    np.savez(path, frequencies=f, eps=np.array(8.0), images=np.array(128), clean_cnn=np.array(0.02),
             clean_vit=np.array(0.03), error_cnn=vit, error_vit=cnn)
    again = AppTest.from_file(PAGE, default_timeout=180).run()
    assert ("Waves below 8 cycles per image raise the error to 30% (cnn) and 2% (vit); waves of 16 cycles or more "
            "to 3% (cnn) and 50% (vit).") in " ".join(i.value for i in again.info)
    monkeypatch.setattr(fo, "FOURIER_FILE", tmp_path / "absent.npz")
    bare = AppTest.from_file(PAGE, default_timeout=180).run()
    assert not bare.exception and any("not computed yet" in i.value for i in bare.info)


def _datasets(chart) -> list:
    return [pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets]


def test_another_cnn_redraws_the_charts_and_maps_with_its_own_measurements():
    """Charts and pictures are made once per pair of models and shared by every session: picking another CNN
    draws that CNN's."""
    page = AppTest.from_file(PAGE, default_timeout=300).run()
    titles = lambda at: [json.loads(c.proto.spec).get("title") for c in at.get("vega_lite_chart")]  # noqa: E731
    assert {"cnn × vit", "cnn × cnn"} <= set(titles(page))
    radii = _datasets(page.get("vega_lite_chart")[0])[0]
    erf = [i.proto.imgs[0].url for i in page.get("image")]
    page.selectbox(key="bi-cnn").set_value("cnn-center").run()
    assert not page.exception
    assert {"cnn-center × vit", "cnn-center × cnn-center"} <= set(titles(page)) and "cnn × vit" not in titles(page)
    # another network's receptive fields: other radii and other pictures of the CNN's stages
    assert not _datasets(page.get("vega_lite_chart")[0])[0].equals(radii)
    assert [i.proto.imgs[0].url for i in page.get("image")][0] != erf[0]
    # and its own readings and tables: its name in the sharing reading and over its table of parameters
    assert any("cnn-center" in i.value for i in page.info)
    assert "**cnn-center**" in [m.value for m in page.markdown]
