"""The equivariance page runs as a user would drive it (streamlit.testing AppTest)."""
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import torch
from streamlit.testing.v1 import AppTest

import ui.models
from core.models import LoadedModel, build_embedded
from ui.images import picked_key
from ui.images import sample

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "equivariance.py")


def texts(at):
    return [e.value for e in (*at.success, *at.warning, *at.error, *at.info)]


def verdict(at):
    found = [t for t in texts(at) if t.startswith("max |A - B|")]
    assert len(found) == 1, texts(at)
    return found[0]


def chart_data_of(chart):
    blobs = [d.data.data for d in chart.proto.datasets] or [chart.proto.data.data]
    return pd.concat([pa.ipc.open_stream(b).read_all().to_pandas() for b in blobs], ignore_index=True)


def chart_data(at):
    """Every chart's rows (the hand-built chains' chart, and the whole networks' when picked)."""
    return pd.concat([chart_data_of(c) for c in at.get("vega_lite_chart")], ignore_index=True)


@pytest.fixture
def app():
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.run()
    assert not at.exception, at.exception
    return at


def test_defaults_reproduce_the_classic_demo(app):
    assert verdict(app) == "max |A - B| = 0 (equivariant)."
    assert app.slider(key="eq_dx").value == 20 and app.slider(key="eq_dy").value == 20
    assert app.selectbox(key="eq_kernel").value == "vertical edge"
    assert app.radio(key="eq_mode").value == "zeros"
    assert "−3, white = 0, red = +3" in " ".join(c.value for c in app.caption)  # the signed scale is stated
    assert app.query_params["dx"] == "20" and app.query_params["kernel"] == "vertical edge"
    data = chart_data(app)  # the plain conv is flat at 0, stride 2 is exact only at even shifts
    conv, strided = data[data.chain == "conv"], data[data.chain == "conv + stride 2"]
    assert conv.error.max() < 1e-5 and len(conv) == 17
    assert strided[strided.shift_px % 2 == 0].error.max() < 1e-5 and strided[strided.shift_px % 2 == 1].error.min() > 0.05


def test_shift_across_the_border_then_circular(app):
    app.slider(key="eq_dx").set_value(-45).run()  # the square (cols 40..59) now crosses the left edge
    assert not app.exception
    v = verdict(app)
    assert v.startswith("max |A - B| = 3 (not equivariant at the border)") and "within 1 px of the edge" in v
    app.radio(key="eq_mode").set_value("circular").run()
    assert not app.exception
    assert verdict(app).startswith("max |A - B| = 0 (equivariant)")


def test_shift_larger_than_the_image_and_other_kernels(app):
    app.slider(key="eq_dx").set_value(110).run()
    assert not app.exception and verdict(app).startswith("max |A - B| = 0 (equivariant)")
    for preset in ("Sobel y", "Laplacian", "Gaussian blur", "sharpen", "box", "random", "custom"):
        app.selectbox(key="eq_kernel").set_value(preset).run()
        assert not app.exception, preset
        verdict(app)


def test_bookmarked_state_is_restored():
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.query_params.update(kernel="Sobel x", dx="-7", dy="3", mode="circular")
    at.run()
    assert not at.exception
    assert at.selectbox(key="eq_kernel").value == "Sobel x"
    assert (at.slider(key="eq_dx").value, at.slider(key="eq_dy").value) == (-7, 3)
    assert at.radio(key="eq_mode").value == "circular"
    assert verdict(at).startswith("max |A - B| = 0 (equivariant)")


def test_bad_bookmark_falls_back_to_defaults():
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.query_params.update(kernel="nope", dx="abc", dy="99999", mode="mirror")
    at.run()
    assert not at.exception
    assert at.selectbox(key="eq_kernel").value == "vertical edge" and at.slider(key="eq_dx").value == 20
    assert at.slider(key="eq_dy").value == 20 and at.radio(key="eq_mode").value == "zeros"


def test_whole_models_are_measured_or_skipped_with_a_note(app):
    chains = app.multiselect(key="eq_chains")
    app.multiselect(key="eq_chains").set_value(chains.options).run()
    assert not app.exception
    skipped = [t for t in texts(app) if t.startswith("Skipping")]
    assert len(skipped) in (0, 1, 2)  # 0 when the embedded weights are there: both are in the chart then
    app.multiselect(key="eq_chains").set_value([]).run()
    assert not app.exception and any("Pick at least one chain" in t for t in texts(app))


def test_whole_model_chains_are_drawn_when_the_models_load(monkeypatch):
    torch.manual_seed(0)
    fake = {"cnn": LoadedModel("cnn", build_embedded("resnet", 3).eval(), "cnn", (64, 64), [], (0.5,) * 3, (0.5,) * 3),
            "vit": LoadedModel("vit", build_embedded("vit", 3).eval(), "vit", (64, 64), [], (0.5,) * 3, (0.5,) * 3)}
    monkeypatch.setattr(ui.models, "cached_model", lambda name: fake[name])
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.run()
    at.multiselect(key="eq_chains").set_value(at.multiselect(key="eq_chains").options).run()
    assert not at.exception
    assert not [t for t in texts(at) if t.startswith("Skipping")]
    chains = set(chart_data(at)["chain"])
    assert {"whole CNN (cnn) feature map", "whole ViT (vit) token map", "conv"} <= chains
    # the whole networks (a CNN's stride 32: shifts up to 64 px) get a chart and an x-axis of their own, so the
    # hand-built chains (up to 16 px) are not squeezed into a quarter of the width
    hand_chart, whole_chart = at.get("vega_lite_chart")
    assert set(chart_data_of(whole_chart)["chain"]) == {"whole CNN (cnn) feature map", "whole ViT (vit) token map"}
    hand = set(chart_data_of(hand_chart)["chain"])
    assert "conv" in hand and not any(c.startswith("whole ") for c in hand)


def test_a_blur_is_drawn_like_a_photo_and_an_exact_match_is_called_identical(app):
    captions = " ".join(c.value for c in app.caption)
    assert "|A − B|: identical" in captions  # the classic demo is exactly equivariant: no empty stretched map
    assert "signed: blue" in captions  # a vertical edge has negative outputs
    app.selectbox(key="eq_kernel").set_value("Gaussian blur").run()
    captions = " ".join(c.value for c in app.caption)
    assert "black = 0" in captions and "signed" not in captions  # all weights > 0: no negative output to colour


def test_changing_the_image_keeps_the_shift(app):
    """A new image changes the sliders' range; the chosen shift must survive (it used to jump to the minimum)."""
    app.selectbox(key="eq-image").set_value("cat")
    app.run()
    assert not app.exception
    assert app.slider(key="eq_dx").value == 20 and app.slider(key="eq_dy").value == 20


def test_the_pictures_and_the_chart_follow_the_shift_and_the_kernel(app):
    """Pictures and charts are made once per input and shared by every session: a shift moves T f(x) and f(T x) and
    leaves the input picture as it was; another kernel draws other errors."""
    urls = lambda at: [i.proto.imgs[0].url for i in at.get("image")]  # noqa: E731  x, f(x), T f(x), f(T x), |A - B|
    first, errors = urls(app), chart_data(app)
    app.slider(key="eq_dx").set_value(-45).run()  # across the border: A and B differ there
    now = urls(app)
    assert now[0] == first[0] and now[2] != first[2] and now[3] != first[3] and now[4] != first[4]
    app.selectbox(key="eq_kernel").set_value("Gaussian blur").run()
    assert not app.exception and urls(app)[1] != now[1]  # another kernel's f(x)
    blurred = chart_data(app)
    strided = lambda d: d[d.chain == "conv + stride 2"].error.tolist()  # noqa: E731
    assert strided(blurred) != strided(errors)


def test_the_panels_show_a_before_b_as_the_heading_names_them(app):
    heading = next(h.value for h in app.subheader if "(A)" in h.value)
    assert heading.index("(A)") < heading.index("(B)")
    panels = [m.value.split("  \n") for m in app.markdown if m.value.startswith("**") and "  \n" in m.value]
    assert [title for title, _ in panels] == ["**Original** x", "**Convolution**", "**Shift, then convolve (A)**",
                                              "**Convolve, then shift (B)**"]
    assert [formula for _, formula in panels[1:]] == ["f(x)", "f(T x)", "T f(x), T = shift (20, 20)"]  # A: f(T x)


def test_another_image_draws_its_own_pictures_and_errors(app):
    """Pictures, numbers and charts are made once per input and shared by every session: the image is one of them."""
    urls = lambda at: [i.proto.imgs[0].url for i in at.get("image")]  # noqa: E731
    square, square_errors, square_verdict = urls(app), chart_data(app), verdict(app)
    app.selectbox(key="eq-image").set_value("cat").run()
    assert not app.exception
    assert all(a != b for a, b in zip(urls(app), square))
    assert verdict(app) != square_verdict  # a photo reaches the border: the zero padding breaks equivariance there
    strided = lambda d: d[d.chain == "conv + stride 2"].error.tolist()  # noqa: E731
    assert strided(chart_data(app)) != strided(square_errors)


def test_an_image_is_named_by_its_sample_or_else_by_its_pixels():
    """A sample's pixels are the same for every session (the picker loads the shipped sample); an upload or a photo
    is named by its contents, so two uploads under the same picker option are two inputs."""
    a = np.zeros((3, 8, 8), np.float32)
    b = a.copy()
    b[0, 0, 0] = 1.0
    assert picked_key("upload", a) != picked_key("upload", b)
    assert picked_key("upload", a) == picked_key("camera", a.copy())
    cat = sample("cat").numpy()
    assert np.array_equal(cat, sample("cat").numpy())
    assert picked_key("cat", cat) == "sample:cat" != picked_key("white square", sample("white square").numpy())


def test_the_kernel_table_shows_the_picked_kernel(app):
    """The preset's table is made once per (preset, size, seed): another seed shows another random kernel, the
    one numpy's generator gives for it."""
    def table_of(at):
        return [[str(v) for v in row] for row in at.table[0].value.to_numpy()]

    app.selectbox(key="eq_kernel").set_value("random").run()
    app.number_input(key="eq_seed").set_value(1).run()
    assert not app.exception
    expected = np.random.default_rng(1).normal(size=(3, 3))
    assert table_of(app) == [[f"{v:.3g}" for v in row] for row in expected]
    app.number_input(key="eq_seed").set_value(2).run()
    assert table_of(app) == [[f"{v:.3g}" for v in row] for row in np.random.default_rng(2).normal(size=(3, 3))]
