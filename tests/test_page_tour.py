"""The lecture tour through Streamlit's AppTest (run by the entry file, whose navigation the tour's links need):
every step before and after its reveal in both languages, nothing of an answer before the reveal, answers that
follow the results files, and a bad ?step= that starts at step 1 with a note."""
from pathlib import Path
from urllib.parse import parse_qs

import pandas as pd
import pytest
from playwright.sync_api import expect
from streamlit.testing.v1 import AppTest

from core import tour
from core.experiments import hunger_results
from core.experiments import pretraining
from core.messages import catalogue
from test_browser import IDLE, browser, server  # noqa: F401  (fixtures)
from test_i18n import CJK, shown_text, untranslated
from ui import equivariance_views as ev
from ui import i18n, tour_views

ROOT = Path(__file__).resolve().parents[1]
REVEAL = {"en": "Reveal", "zh": "揭晓"}
NEXT = {"en": "Next", "zh": "下一步"}


def tour_at(step=None, lang="en", **params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
    at.query_params["lang"] = lang
    if step is not None:
        at.query_params["step"] = step
    for k, v in params.items():
        at.query_params[k] = v
    at.switch_page("pages/tour.py")
    return at.run()


def button(at, label):
    found = [b for b in at.button if b.label == label]
    return found[0] if found else None


def shown(at) -> str:
    return " ".join([m.value for m in at.markdown] + [s.value for s in at.success] + [i.value for i in at.info])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_step_renders_before_and_after_its_reveal(lang):
    cat = catalogue(lang)
    at = tour_at(lang=lang)
    for n, step in enumerate(tour.STEPS, 1):
        assert not at.exception, (n, [e.message for e in at.exception])
        assert at.title[0].value.startswith(f"{n}/{len(tour.STEPS)} · {cat[f'tour.{step.id}.title']}")
        assert at.query_params["step"] == str(n)
        reveal = button(at, REVEAL[lang])
        if step.choices and not at.warning:  # a step whose data is missing says so instead of asking
            assert reveal is not None and not at.success, n
            assert not at.get("vega_lite_chart"), f"step {n} draws its answer's chart before the reveal"
            assert cat[f"tour.{step.id}.question"].split("{")[0][:12] in shown(at)
            reveal.click().run()
            assert not at.exception, (n, [e.message for e in at.exception])
            assert button(at, REVEAL[lang]) is None
            if lang == "zh":  # every step in Chinese only (test_i18n sees the tour's first step unrevealed)
                assert not {x: untranslated(x) for x in shown_text(at) if untranslated(x)}, n
            else:
                assert not [x for x in shown_text(at) if CJK.search(x)], n
            if not at.warning:
                correct = [c for c in step.choices
                           if cat["tour.verdict"].format(answer=cat[f"tour.{step.id}.choice.{c}"], guess="").strip()
                           in shown(at)]
                assert len(correct) == 1, (n, shown(at))
                assert at.get("vega_lite_chart") or at.get("imgs") or at.get("image"), f"step {n} shows no picture"
        if n < len(tour.STEPS):
            button(at, NEXT[lang]).click().run()
    assert not at.exception


def test_nothing_of_the_answer_is_shown_before_the_reveal():
    cat = catalogue("en")
    for n, step in enumerate(tour.STEPS[:-1], 1):
        at = tour_at(str(n))
        if at.warning:
            continue
        before = shown(at)
        assert not at.success and cat["tour.takeaway"] not in before
        for c in step.choices:  # no answer or takeaway sentence of any outcome (their opening words)
            for what in ("answer", "takeaway"):
                key = next((k for k in (f"tour.{step.id}.{what}_{c}", f"tour.{step.id}.{what}") if k in cat), None)
                opening = cat[key].split("{")[0].strip()[:30]
                assert not opening or opening not in before, (n, key)


def test_the_answer_follows_the_results_file(tmp_path, monkeypatch):
    """Step 8 reads the data-hunger CSV when it is revealed: a hand-made file where the CNN wins both comparisons
    turns the answer (and its numbers) around; a capped run is not read."""
    rows = [("cnn", 0, 0.91, True), ("vit", 0, 0.55, True), ("cnn", 8, 0.97, True), ("vit", 8, 0.88, True),
            ("vit", 8, 0.99, False)]  # a second augmented ViT run that hit its cap: never a result
    frame = pd.DataFrame([{"model": m, "train_size": 1_000, "seed": i, "augment_px": a, "test_accuracy": acc,
                           "train_accuracy": 1.0, "converged": conv} for i, (m, a, acc, conv) in enumerate(rows)])
    frame.to_csv(tmp_path / "hunger.csv", index=False)
    monkeypatch.setattr(hunger_results, "HUNGER_FILE", tmp_path / "hunger.csv")
    at = tour_at("8")
    button(at, "Reveal").click().run()
    text = shown(at)
    assert "**The CNN both times.**" in text, text
    assert "CNN 91.0%, ViT 55.0%; with it CNN 97.0%, ViT 88.0%" in text

    monkeypatch.setattr(hunger_results, "HUNGER_FILE", tmp_path / "absent.csv")
    at = tour_at("8")
    button(at, "Reveal").click().run()
    assert "core/results/data_hunger.csv" in at.warning[0].value and not at.exception
    assert button(at, "Next") is not None  # the tour goes on


def test_the_pretraining_answer_follows_its_results_file(tmp_path, monkeypatch):
    rows = [("cnn", "scratch", 0.60), ("cnn", "finetune", 0.70), ("vit", "scratch", 0.30), ("vit", "finetune", 0.75)]
    pd.DataFrame([{"model": m, "init": i, "target_size": n, "seed": 0, "test_accuracy": a, "converged": True}
                  for m, i, a in rows for n in (100, 250)]).to_csv(tmp_path / "pre.csv", index=False)
    monkeypatch.setattr(pretraining, "PRETRAINING_FILE", tmp_path / "pre.csv")
    at = tour_at("9")
    assert "from only 100 images" in shown(at)  # the smallest size every series converged at
    button(at, "Reveal").click().run()
    text = shown(at)
    assert "**The ViT.**" in text and "(+10 points)" in text and "(+45 points)" in text, text


@pytest.mark.parametrize("raw", ["0", "99", "two", "-1"])
def test_a_step_that_does_not_exist_opens_step_one_with_a_note(raw):
    at = tour_at(raw)
    assert not at.exception
    assert at.title[0].value.startswith("1/")
    assert f"There is no step “{raw}”" in at.info[0].value
    assert at.query_params["step"] == "1"


def test_a_bookmarked_step_opens_directly_and_previous_goes_back():
    at = tour_at("6")
    assert at.title[0].value.startswith("6/")
    button(at, "Previous").click().run()
    assert at.title[0].value.startswith("5/") and at.query_params["step"] == "5"


def test_self_study_shows_the_answers_without_a_reveal():
    at = tour_at("4")
    at.sidebar.toggle(key="tour_hide").set_value(False).run()
    assert button(at, "Reveal") is None and at.success and "**They are identical.**" in shown(at)


def test_a_guess_is_marked_right_or_wrong_on_the_reveal():
    at = tour_at("4")
    at.pills(key="tour_guess_equivariance").set_value("everywhere").run()
    button(at, "Reveal").click().run()
    assert "Not what you guessed." in at.success[0].value


def test_a_revealed_step_links_its_page_at_the_settings_it_measured():
    at = tour_at("4")
    button(at, "Reveal").click().run()
    link = at.get("page_link")[-1].proto
    assert link.page == "equivariance"
    query = {k: v[0] for k, v in parse_qs(link.query_string).items()}
    assert query == {k: str(ev.DEFAULTS[k]) for k in ("image", "kernel", "size", "dx", "dy", "mode")}


# --- the step charts' axes -----------------------------------------------------------------------------------------
def _value_scale(chart) -> dict:
    """The x scale of a step's bar chart (the layer that draws the bars)."""
    return next(layer["encoding"]["x"]["scale"] for layer in chart.to_dict()["layer"]
                if "scale" in layer["encoding"].get("x", {}))


def test_step_one_log_axis_ends_near_its_largest_bar():
    """Step 1's bars: 448 parameters (3x3x3x16 + 16) for the convolution, 805,371,904 (64x64x3 x 64x64x16 + 64x64x16)
    for the dense layer. The log axis must end within a factor of 10 of the largest, not 10^7 beyond it."""
    dense = 64 * 64 * 3 * 64 * 64 * 16 + 64 * 64 * 16
    shown = tour.BIAS.measure(None)
    assert max(bar.value for bar in shown.chart.bars) == dense
    low, high = _value_scale(tour_views._bars(shown.chart))["domain"]
    assert low == 1 and dense <= high <= 10 * dense


@pytest.mark.parametrize("bars, fmt, top, expected", [
    ([0.16, 0.98], ".0%", 1.0, (0, 1)),  # accuracies: the whole 0-100 % scale
    ([31.3, 33.2, 16.3], ".1f", 32.6, (0, 33.2)),  # px: as far as the longest bar, past `top`
    ([0.65, 0.55, 0.17], ".2f", 0.0, (0, 0.65)),  # errors: as far as the largest
])
def test_a_linear_axis_runs_from_zero_to_its_data(bars, fmt, top, expected):
    b = tour.Bars([tour.Bar("x", v) for v in bars], tour.say("tour.accuracy"), fmt=fmt, top=top)
    assert tuple(_value_scale(tour_views._bars(b))["domain"]) == pytest.approx(expected)


def test_sentences_are_joined_as_each_language_writes_them():
    """A blank between English sentences, none after Chinese full-width punctuation, bold or not."""
    assert i18n.joined(["One.", "Two."]) == "One. Two."
    assert i18n.joined(["**Takeaway**:", "Two."]) == "**Takeaway**: Two."
    assert i18n.joined(["一。", "二（三）", "四。"]) == "一。二（三）四。"
    assert i18n.joined(["**要点**：", "二。"]) == "**要点**：二。"
    assert i18n.labelled("Takeaway:", "Two.") == "**Takeaway**: Two."
    assert i18n.labelled("要点：", "二。") == "**要点**：二。"  # '**要点：**二' would not close its bold
    assert i18n.labelled("全场：") == "**全场**："


# --- in a browser: a touch screen and a projector --------------------------------------------------------------
def _step(pg, url: str) -> None:
    pg.goto(url)
    pg.wait_for_selector("h1", timeout=240_000)
    pg.wait_for_selector(IDLE, timeout=240_000)


@pytest.mark.browser
def test_a_touch_screen_gets_no_keyboard_hint_and_a_laptop_does(server, browser):
    hint = catalogue("en")["tour.keys"]
    for touch, width, height in ((True, 390, 844), (False, 1400, 900)):
        ctx = browser.new_context(viewport={"width": width, "height": height}, is_mobile=touch, has_touch=touch)
        try:
            pg = ctx.new_page()
            _step(pg, f"{server}/tour?step=1")
            assert pg.get_by_text(hint).count() == 1  # drawn either way: the screen decides what shows
            for shown in (pg.get_by_text(hint), pg.locator("[data-testid='stButton'] kbd").first):  # the buttons' keys
                (expect(shown).to_be_hidden if touch else expect(shown).to_be_visible)(timeout=30_000)
            if touch:
                assert pg.evaluate("document.documentElement.scrollWidth") <= width
        finally:
            ctx.close()


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_on_a_projector_no_step_cuts_its_page_link(server, browser, lang):
    """1280x720 in projector mode, every step revealed: each page link's label is shown whole (it wraps)."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        pg = ctx.new_page()
        for n, step in enumerate(tour.STEPS[:-1], 1):
            _step(pg, f"{server}/tour?step={n}&present=1&lang={lang}")
            reveal = pg.locator("[data-testid='stButton'] button", has_text=catalogue(lang)["tour.reveal"])
            if not reveal.count():
                continue  # a step whose data is missing says so instead
            reveal.first.click()
            links = pg.locator("[data-testid='stMain'] [data-testid='stPageLink']")
            expect(links.first).to_be_visible(timeout=240_000)
            pg.wait_for_selector(IDLE, timeout=240_000)
            cut = links.evaluate_all("ls => ls.flatMap(l => [...l.querySelectorAll('*')])"
                                     ".filter(x => x.scrollWidth > x.clientWidth + 1).map(x => x.textContent)")
            assert not cut, (n, cut)
    finally:
        ctx.close()
