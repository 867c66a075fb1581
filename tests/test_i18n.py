"""The language catalogues (locales/<lang>/*.toml) against the code that uses them, and the pages in each language."""
import ast
import json
import re
import string
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import images, messages, shapes
from core.models import EMBEDDED
from ui import i18n, registry

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "streamlit_app.py", *sorted((ROOT / "ui").glob("*.py")), *sorted((ROOT / "pages").glob("*.py")),
           *sorted((ROOT / "core").rglob("*.py"))]
# calls whose first argument is a catalogue key: t("home.intro"), say(...), Message(...), raise SomeError("error...")
KEYED_CALLS = re.compile(r"^(t|say|Message|text|name_of|[A-Za-z]*Error)$")
KEY = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)+$")


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _callee(call: ast.Call) -> str:
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def keys_in_code() -> tuple[set[str], set[str]]:
    """(keys written out in the code, prefixes of keys the code builds: f"shape.{name}" -> "shape.")."""
    keys, prefixes = set(), set()
    for src in SOURCES:
        for node in ast.walk(ast.parse(src.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and \
                    KEY.match(str(node.slice.value)):  # text["home_picture.cnn_title"], a catalogue looked up whole
                keys.add(node.slice.value)
            if not (isinstance(node, ast.Call) and KEYED_CALLS.match(_callee(node)) and node.args):
                continue
            arg = node.args[0]
            if _callee(node) == "name_of" and isinstance(arg, ast.Constant):  # name_of("shape", name)
                prefixes.add(arg.value + ".")
            elif isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
                prefixes.add(arg.values[0].value)  # t(f"nav.{page}")
            else:  # t("a.x"), t("a.x" if c else "a.y" if d else "a.z")
                options = [arg]
                while any(isinstance(o, ast.IfExp) for o in options):
                    options = [b for o in options for b in ((o.body, o.orelse) if isinstance(o, ast.IfExp) else (o,))]
                keys |= {o.value for o in options if isinstance(o, ast.Constant) and KEY.match(str(o.value))}
    return keys, prefixes


def test_every_language_has_every_key_with_the_same_placeholders():
    en = i18n.catalogue("en")
    for lang in i18n.LANGUAGES:
        other = i18n.catalogue(lang)
        assert set(other) == set(en), (lang, set(en) ^ set(other))
        for key, text in en.items():
            assert placeholders(other[key]) == placeholders(text), (lang, key)


def test_the_code_uses_every_key_and_only_keys_that_exist():
    keys, prefixes = keys_in_code()
    defined = set(i18n.catalogue("en"))
    assert keys - defined == set(), "keys the code asks for but no catalogue has"
    unused = {k for k in defined - keys if not any(k.startswith(p) for p in prefixes)}
    assert unused == set(), "keys no code uses"


@pytest.mark.parametrize("section, names", [("sample", images.sample_names()), ("shape", shapes.ALL_SHAPES),
                                            ("model", list(EMBEDDED)), ("nav", [p.name for p in registry.PAGES])])
def test_every_name_the_code_knows_has_a_translation(section, names):
    for lang in i18n.LANGUAGES:
        for name in names:
            assert f"{section}.{i18n.slug(name)}" in i18n.catalogue(lang), (lang, section, name)


def test_a_message_is_worded_in_each_language_with_its_values_and_nested_names():
    inner = messages.say("shape.star")
    msg = messages.say("picker.cannot_use", name="x.png", error=inner)
    assert msg.text("en") == "Cannot use **x.png**: star"
    assert msg.text("zh") == "无法使用 **x.png**：星形"
    err = images.ImageError("error.image.too_small", width=4, height=5, min_side=8)
    assert str(err).startswith("The image is 4 x 5 pixels, too small")
    assert err.message.text("zh").startswith("图像为 4 x 5 像素")


def test_the_chinese_catalogue_uses_the_standard_terms():
    zh = " ".join(i18n.catalogue("zh").values())
    for term in ("卷积", "平移等变性", "平移不变性", "归纳偏置", "局部性", "权重共享", "图像块", "注意力图", "注意力展开",
                 "位置嵌入", "全局平均池化", "抗混叠", "数据量"):
        assert term in zh, term


# What stays as it is in the Chinese interface: names (models, architectures, libraries, authors), units, formulas
# ($...$), code (`...`), numbers. Anything else in Latin letters (three or more in a row) is an untranslated word.
KEEP = re.compile(
    r"\$[^$]*\$|`[^`]*`|\*\*[a-z0-9-]+\*\*|https?://\S+|\?[a-z]+=\w+|timm:[\w.-]+|"
    r"\b(?:CNNs?|ViTs?|ViT-B/\d+|ResNet(?:-\d+)?|BlurPool|timm|ImageNet|CIFAR|token|tokens|patch|Vision Transformer|MFLOPs|"
    r"Grad-CAM|CAM|TorchCAM|LeGrad|RISE|torchvision|Selvaraju|Petsiuk|Chefer|CLS|DIST|REG\d+|PREFIX\d+|JFT|GAP|PCA|MLP|CSV|Sobel|ReLU|relu|conv|pool|avgpool|maxpool|blurpool|softmax|rollout|zeros|circular|reflect|"
    r"Fig|Figs|Tab|DeiT|BiT|Touvron|NVIDIA|Dosovitskiy|Xiao|Azulay|Weiss|Kayhan|van Gemert|Gemert|Zhang|Abnar|Zuidema|Raghu|Chefer|Zhou|"
    r"CKA|ERF|Kornblith|Luo|Yin|Park|Kim|et al|arXiv|px|MB|IBL_\w+|(?:cnn|vit)(?:-[a-z0-9]+)*|max|min|mean|cos|sin|std|SHA|CPU|GPU|CUDA|bf16)\b"
    r"|[0-9.,×%+−\-]+")
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")
CJK = re.compile(r"[\u4e00-\u9fff]")


def _chart_texts(chart) -> list[str]:
    """What a Vega-Lite chart writes: titles (chart, axes, legends, headers, tooltips), axis titles taken from an
    untitled field's name, and the values of fields shown as legend entries or facet headers."""
    spec = json.loads(chart.proto.spec)
    out: list[str] = []
    legend_fields: set[str] = set()

    def title(v):
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, list):
            out.extend(x for x in v if isinstance(x, str))
        elif isinstance(v, dict) and "text" in v:
            title(v["text"])

    def walk(node, parent=None):
        if isinstance(node, dict):
            if "field" in node and parent in ("x", "y", "color", "column", "row", "facet", "shape", "strokeDash",
                                              "size", "tooltip", "x2", "y2", "theta"):
                if "title" not in node and node.get("axis", 1) is not None and node.get("legend", 1) is not None:
                    out.append(str(node["field"]))
                if parent in ("color", "column", "row", "facet", "shape", "strokeDash") and \
                        node.get("type") in ("nominal", "ordinal") and node.get("legend", 1) is not None:
                    legend_fields.add(str(node["field"]))
            for k, v in node.items():
                if k == "title":
                    title(v)
                elif k == "text" and isinstance(v, dict) and isinstance(v.get("value"), str):
                    out.append(v["value"])
                walk(v, k)
        elif isinstance(node, list):
            for v in node:
                walk(v, parent)

    walk(spec)
    if legend_fields:
        import pyarrow as pa

        blobs = [d.data.data for d in chart.proto.datasets] or [chart.proto.data.data]
        for b in blobs:
            if b:
                table = pa.ipc.open_stream(b).read_all()
                for f in legend_fields & set(table.column_names):
                    out.extend(str(v) for v in set(table.column(f).to_pylist()) if v is not None)
    return out


def shown_text(at) -> list[str]:
    """Every text a user can read on a rendered page (in the main area and the sidebar)."""
    texts = [e.value for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error",
                                  "success") for e in at.get(kind)]
    texts += [e.proto.label for e in at.get("page_link")]
    for kind in ("selectbox", "radio", "multiselect", "select_slider", "slider", "number_input", "text_input",
                 "checkbox", "toggle", "button", "download_button", "expander", "tab", "metric", "text_area"):
        for e in at.get(kind):
            texts.append(e.label)
            texts += [str(o) for o in getattr(e, "options", [])]
            if getattr(e, "help", None):
                texts.append(e.help)
    texts += [str(c) for df in at.dataframe for c in df.value.columns]
    texts += [im.caption for e in at.get("image") for im in e.proto.imgs if im.caption]
    for chart in at.get("vega_lite_chart"):
        texts += _chart_texts(chart)
    # the language picker is in both languages on purpose: whoever cannot read the current one must find it
    bilingual = {i18n.catalogue("en")["app.language"], *i18n.LANGUAGES.values()}
    return [x for x in texts if x and x not in bilingual]


def _run(page: registry.PageSpec, lang: str) -> AppTest:
    path = ROOT / ("streamlit_app.py" if not page.url_path else page.path)
    at = AppTest.from_file(str(path), default_timeout=180)
    at.query_params["lang"] = lang
    at.run()
    assert not at.exception, at.exception
    return at


def untranslated(text: str) -> list[str]:
    return LATIN_WORD.findall(KEEP.sub(" ", text))


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("page", registry.PAGES, ids=lambda p: p.name)
def test_every_page_speaks_only_the_chosen_language(page, lang):
    texts = shown_text(_run(page, lang))
    # the tour's first step before its reveal is short, and the join page without a code is a form
    assert len(texts) > {"tour": 5, "join": 2}.get(page.name, 10)
    if lang == "zh":
        found = {text: untranslated(text) for text in texts if untranslated(text)}
        assert not found, found
    else:
        found = [text for text in texts if CJK.search(text)]
        assert not found, found


def test_the_language_follows_the_url_then_the_picker():
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    at.query_params["lang"] = "zh"
    at.run()
    assert at.title[0].value == "归纳偏置实验室"
    at.radio(key="lang").set_value("en").run()
    assert at.title[0].value == "Inductive Bias Lab"
    assert at.query_params["lang"] == ["en"] or at.query_params["lang"] == "en"


@pytest.mark.parametrize("locale, expected", [("zh-CN", "zh"), ("zh-TW", "zh"), ("en-GB", "en"), ("fr-FR", "en"),
                                              (None, "en")])
def test_without_lang_in_the_url_the_browser_language_decides(monkeypatch, locale, expected):
    class Context:  # what st.context gives a script run: the browser's Accept-Language choice
        pass

    ctx = Context()
    ctx.locale = locale
    monkeypatch.setattr(i18n.st, "context", ctx)
    assert i18n._from_browser() == expected
