"""The language catalogues (ui/locales/*.toml) against the code that uses them, and the pages in each language."""
import re
import string
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.models import EMBEDDED
from ui import i18n, registry

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "streamlit_app.py", *sorted((ROOT / "ui").glob("*.py")), *sorted((ROOT / "pages").glob("*.py"))]
LITERAL = re.compile(r"""\bt\(\s*["']([a-z_][a-z0-9_.]*)["']|text\[["']([a-z_][a-z0-9_.]*)["']\]""")


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def keys_in_code() -> set[str]:
    found = {a or b for src in SOURCES for a, b in LITERAL.findall(src.read_text(encoding="utf-8"))}
    # keys the code builds from data: page titles from the registry, regions from the model specs
    found |= {f"nav.{p.name}" for p in registry.PAGES}
    found |= {f"home.region_{spec.region}" for spec in EMBEDDED.values()}
    return found


def test_every_language_has_every_key_with_the_same_placeholders():
    en = i18n.catalogue("en")
    for lang in i18n.LANGUAGES:
        other = i18n.catalogue(lang)
        assert set(other) == set(en), (lang, set(en) ^ set(other))
        for key, text in en.items():
            assert placeholders(other[key]) == placeholders(text), (lang, key)


def test_the_code_uses_every_key_and_only_keys_that_exist():
    used, defined = keys_in_code(), set(i18n.catalogue("en"))
    assert used - defined == set(), "keys the code asks for but no catalogue has"
    assert defined - used == set(), "keys no code uses"


def test_the_chinese_catalogue_uses_the_standard_terms():
    zh = " ".join(i18n.catalogue("zh").values())
    for term in ("卷积", "平移等变性", "平移不变性", "归纳偏置", "局部性", "权重共享", "图像块", "位置嵌入", "抗混叠"):
        assert term in zh, term


# Words that stay as they are in the Chinese interface: names, units, code, citations.
KEEP = re.compile(r"\$[^$]*\$|`[^`]*`|\b(?:CNN|ViT|ViT-B/32|ResNet-50|timm|token|patch|Vision Transformer|MFLOPs|"
                  r"Fig\.|Dosovitskiy|Azulay|Weiss|Kayhan|van Gemert|Gemert|et al\.)\b|[0-9.,×%MK]+")
ENGLISH_PHRASE = re.compile(r"[A-Za-z]{2,}[ ,;:]+[A-Za-z]{2,}")
CJK = re.compile(r"[\u4e00-\u9fff]")


def shown_text(at) -> list[str]:
    texts = [e.value for kind in ("title", "subheader", "markdown", "caption", "warning") for e in at.get(kind)]
    texts += [e.proto.label for e in at.get("page_link")]
    texts += [str(c) for df in at.dataframe for c in df.value.columns]
    return texts


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_home_page_speaks_only_the_chosen_language(lang):
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    at.query_params["lang"] = lang
    at.run()
    assert not at.exception
    texts = shown_text(at)
    assert len(texts) > 10
    for text in texts:
        if lang == "zh":
            left = KEEP.sub(" ", text)
            assert not ENGLISH_PHRASE.search(left), (text, ENGLISH_PHRASE.search(left).group())
        else:
            assert not CJK.search(text), text


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
