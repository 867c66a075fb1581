"""A class in real browsers: a lecturer's Chromium and three phone-sized ones, on two `streamlit run` servers that
share one classroom database (two processes, as behind the proxy). The phones join by link, answer, follow the
lecturer through two steps and see the reveal; a reload keeps a phone's answer; no phone ever receives the
presenter key, in its page or in any WebSocket frame."""
import re

import pytest

from core import tour
from core.messages import text
from test_browser import IDLE, browser, pytestmark, start_server, wait_healthy  # noqa: F401  (fixture, marker)

WORDS = {"en": {"start": "Start a class", "reveal": "Reveal", "next": "Next", "answered": "{n} answered this step",
                "room": "2 of 3 expected", "head": "step {n} of"},
         "zh": {"start": "开始课堂", "reveal": "揭晓", "next": "下一步", "answered": "本步已有 {n} 人作答",
                "room": "3 人中有 2 人预期", "head": "第 {n} 步"}}
WAIT = 120_000  # ms: a busy machine answers slowly; every wait is for a state, never a fixed time


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Two server processes of the lab sharing one classroom database."""
    db = str(tmp_path_factory.mktemp("class") / "class.sqlite3")
    started = [start_server({"IBL_CLASSROOM_DB": db}) for _ in range(2)]
    try:
        for _, url in started:
            wait_healthy(url, 300)
        yield [url for _, url in started]
    finally:
        for proc, _ in started:
            proc.terminate()
            proc.wait(10)


def _wait_text(pg, words: str, timeout: int = WAIT) -> None:
    pg.wait_for_function("w => document.body.innerText.includes(w)", arg=words, timeout=timeout)


def _button(pg, label: str):
    """A button by its label (its keyboard shortcut's hint is part of its accessible name)."""
    return pg.locator("[data-testid='stButton'] button").filter(has_text=label).first


def _choice(lang: str, n: int, choice: str) -> str:
    return text(lang, f"tour.{tour.STEPS[n - 1].id}.choice.{choice}")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_class_of_three_phones_on_two_servers_follows_two_steps(servers, browser, lang):
    from playwright.sync_api import expect

    w = WORDS[lang]
    a, b = servers
    desk = browser.new_context(viewport={"width": 1400, "height": 900})
    desk.set_default_timeout(WAIT)
    lecturer = desk.new_page()
    lecturer.goto(f"{a}/tour?step=1&lang={lang}")
    lecturer.wait_for_selector(IDLE, timeout=WAIT)
    _button(lecturer, w["start"]).click()
    code = lecturer.locator(".ibl-code").inner_text(timeout=WAIT).strip()
    # the presenter link waits, folded, in the sidebar (its text is in the lecturer's page, never on screen)
    lecturer.wait_for_function("() => document.body.textContent.includes('key=')", timeout=WAIT)
    resume = lecturer.locator("[data-testid='stSidebar'] [data-testid='stCode']").first.text_content()
    key = re.search(r"key=([\w-]+)", resume).group(1)
    assert len(code) == 6 and len(key) == 32  # secrets.token_urlsafe(24): 32 characters

    phones, frames = [], []
    for i, server in enumerate((a, a, b)):  # the third phone is served by the other process
        ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        ctx.set_default_timeout(WAIT)
        pg = ctx.new_page()
        pg.on("websocket", lambda ws: ws.on("framereceived", lambda payload: frames.append(
            payload if isinstance(payload, bytes) else payload.encode())))
        pg.goto(f"{server}/join?code={code}&lang={lang}")
        _wait_text(pg, w["head"].format(n=1))
        phones.append(pg)

    first = tour.STEPS[0].choices
    picks = [first[0], first[0], first[-1]]  # by hand: 2 of 3 for the first choice
    for pg, pick in zip(phones, picks):
        pg.get_by_role("button", name=_choice(lang, 1, pick), exact=True).click()
        expect(pg.locator("[data-testid='stBaseButton-primary']", has_text=_choice(lang, 1, pick))).to_be_visible(
            timeout=WAIT)
    _wait_text(lecturer, w["answered"].format(n=3))  # the vote through the other server counts too

    phones[0].reload()  # the same student comes back with the same answer
    expect(phones[0].locator("[data-testid='stBaseButton-primary']", has_text=_choice(lang, 1, picks[0]))
           ).to_be_visible(timeout=WAIT)

    _button(lecturer, w["reveal"]).click()
    _wait_text(lecturer, w["room"])
    for pg in phones:  # the phones follow on their own, down to the takeaway under the room's answers
        _wait_text(pg, w["room"])
        _wait_text(pg, text(lang, "tour.takeaway"))

    _button(lecturer, w["next"]).click()
    for pg in phones:
        _wait_text(pg, w["head"].format(n=2))
    second = tour.STEPS[1].choices
    phones[2].get_by_role("button", name=_choice(lang, 2, second[1]), exact=True).click()
    _wait_text(lecturer, w["answered"].format(n=1))
    _button(lecturer, w["reveal"]).click()
    # the reveal reaches the phone served by the other process
    expect(phones[2].locator("[data-testid='stAlertContentSuccess']")).to_be_visible(timeout=WAIT)

    for pg in phones:
        assert key not in pg.content()
        assert pg.locator("[data-testid='stException']").count() == 0
    assert frames and not any(key.encode() in f for f in frames)
    assert lecturer.locator("[data-testid='stException']").count() == 0
    desk.close()
    for pg in phones:
        pg.context.close()
