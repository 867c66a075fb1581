"""One colour per class on every chart, in every language (#35): a class-coloured chart is built in English and in
Chinese and each class, found by its name in that language's catalogue, must get the same colour in both."""
import pytest

from core import messages, shapes


def _class_colours(chart, lang: str) -> dict[str, str]:
    """{class identifier: colour} read from a chart's colour scale, whose domain holds names as `lang` shows them."""
    scale = chart.to_dict()["encoding"]["color"]["scale"]
    by_name = {messages.text(lang, f"shape.{c}"): c for c in shapes.ALL_SHAPES}
    assert len(by_name) == len(shapes.ALL_SHAPES)  # names are told apart in this language
    return {by_name[name]: colour for name, colour in zip(scale["domain"], scale["range"], strict=True)}


@pytest.mark.parametrize("present", [shapes.CLASSES, ("star", "heart", "circle"), ("triangle",)])
def test_the_tour_answers_chart_gives_each_class_one_colour_in_every_language(monkeypatch, present):
    from ui import i18n, tour_views

    data = {"rows": [{"model": m, "x": x, "class": c} for m in ("cnn", "vit") for x, c in enumerate(present)],
            "models": ["cnn", "vit"], "ticks": list(range(len(present)))}
    seen = {}
    for lang in ("en", "zh"):
        monkeypatch.setattr(i18n, "current", lambda lang=lang: lang)
        seen[lang] = _class_colours(tour_views._answers_along_path(data), lang)
    assert set(seen["en"]) == set(present)  # the legend lists the classes on the chart, no others
    assert seen["en"] == seen["zh"]
    assert len(set(seen["en"].values())) == len(present)  # no two classes share a colour
    assert seen["en"] == {c: shapes.CLASS_COLOURS[c] for c in present}


def test_every_class_has_its_own_colour():
    assert set(shapes.CLASS_COLOURS) == set(shapes.ALL_SHAPES)
    assert len(set(shapes.CLASS_COLOURS.values())) == len(shapes.ALL_SHAPES)


def test_the_locality_chart_draws_trained_solid_and_untrained_dashed_in_every_language(monkeypatch):
    import pandas as pd

    from ui import biases_views, i18n

    dashes = {}
    for lang in ("en", "zh"):
        monkeypatch.setattr(i18n, "current", lambda lang=lang: lang)
        rows = pd.DataFrame([{"what": messages.text(lang, "biases.locality.erf"), "depth": "0", "radius": 1.0,
                              "weights": messages.text(lang, f"biases.locality.{w}"), "share": 90}
                             for w in ("untrained", "trained")])
        spec = biases_views.locality_chart(rows, 90, legend=True).to_dict()
        (scale,) = [layer["encoding"]["strokeDash"]["scale"] for layer in spec["layer"] if "strokeDash" in layer["encoding"]]
        by_name = {messages.text(lang, f"biases.locality.{w}"): w for w in ("trained", "untrained")}
        dashes[lang] = {by_name[d]: tuple(r) for d, r in zip(scale["domain"], scale["range"], strict=True)}
    assert dashes["en"] == dashes["zh"]
    assert dashes["en"]["trained"] == (1, 0) and dashes["en"]["untrained"] != (1, 0)
