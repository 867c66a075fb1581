"""Every page in a real `streamlit run` server, driven by Debian's Chromium through Playwright."""
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from ui.registry import URL_PATHS

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
PAGES = URL_PATHS
ARTIFACTS = Path("tests/artifacts")

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")]


def start_server(env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """`streamlit run` of the lab on a free loopback port, with `env` added to the environment: (process, url)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1"],
                            env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}"


def wait_healthy(url: str, seconds: float = 240) -> None:
    """Until the server's health check answers; generous for a busy machine (the warm-up goes on behind it)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=1).read().strip() == b"ok":
                return
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail("streamlit did not answer its health check")
            time.sleep(0.2)


def need_chromium() -> None:
    """Skip where Chromium is missing: the page tests that borrow these fixtures run their other tests anyway."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed")


@pytest.fixture(scope="module")
def server():
    need_chromium()
    proc, url = start_server()
    try:
        wait_healthy(url)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def browser():
    need_chromium()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _open(browser, url):
    pg = browser.new_page(viewport={"width": 1400, "height": 900})
    pg.goto(url)
    # the page's title is drawn by the script run that the app settles on (a first visit may rerun once)
    pg.wait_for_selector("h1", timeout=180_000)
    pg.wait_for_selector(IDLE, timeout=180_000)
    return pg


def _act_until(pg, act, shown: str, tries: int = 4, each_ms: int = 45_000) -> None:
    """Do `act` (a click, a key) until `shown` is on the page. On a busy machine a button's trigger can be lost: seen
    once each in CI for the tour's ↓ and the live run's button, never here (a likely cause: the browser reconnects
    to a slow server, and Streamlit keeps widget values across a reconnect, not clicks). A repeat is harmless where
    the first did land: both actions are idempotent."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(1, tries + 1):
        act()
        try:
            pg.wait_for_selector(shown, timeout=each_ms)
            return
        except PlaywrightTimeout:
            if attempt == tries:
                raise


def test_a_bookmarked_page_on_a_fresh_server_runs_inside_the_app(server, browser):
    """The first visit of a fresh server is a deep link: it must still get the app's navigation and layout."""
    pg = _open(browser, f"{server}/attention")
    try:
        nav = pg.locator("[data-testid='stSidebarNavLink']").all_inner_texts()
        assert any("Shift sensitivity" in t for t in nav), nav  # the entry file's titles, not file names
        assert pg.locator("h1").first.inner_text().startswith("ViT patches")
    finally:
        pg.close()


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("page", PAGES)
def test_page_renders_without_exception(server, browser, page, lang):
    """Every page in both languages: no exception, the navigation in that language, ?lang= kept for a bookmark
    (the four experiment pages' own texts are still English: issue #18)."""
    from ui.i18n import catalogue

    pg = _open(browser, f"{server}/{page}?lang={lang}")
    try:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"{page or 'home'}-{lang}.png"), full_page=True)
        assert pg.locator("[data-testid='stException']").count() == 0
        assert pg.locator("h1").count() >= 1
        nav = pg.locator("[data-testid='stSidebarNavLink']").all_inner_texts()
        assert any(catalogue(lang)["nav.sensitivity"] in t for t in nav), nav
        assert f"lang={lang}" in pg.url
    finally:
        pg.close()


PHONE = {"width": 390, "height": 844}
SIDEWAYS = """() => {
    const over = (e) => e.scrollWidth > e.clientWidth + 1;
    const main = document.querySelector("[data-testid='stMain']");
    const boxes = [...document.querySelectorAll("[data-testid='stDataFrame'] .dvn-scroller, [data-testid='stTable']")];
    const drawn = [...document.querySelectorAll(
        "[data-testid='stVegaLiteChart'], [data-testid='stImage'], [data-testid='stDataFrame'], [data-testid='stTable']")];
    return {page: document.documentElement.scrollWidth, main: main ? over(main) : null,
            tables: boxes.filter(over).map((e) => [e.scrollWidth, e.clientWidth]),
            wide: drawn.filter((e) => e.getBoundingClientRect().right > innerWidth + 1).map((e) => e.dataset.testid)};
}"""


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_page_reads_on_a_phone_without_sideways_scrolling(server, browser, lang):
    """A 390-px phone: no page, chart, picture or table is wider than the screen, and no table scrolls sideways
    inside its own box (a narrow screen gets narrow tables). The sidebar is folded, as a phone starts."""
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        pg = context.new_page()
        for page in PAGES:
            pg.goto(f"{server}/{page}?lang={lang}")
            pg.wait_for_selector("h1", timeout=180_000)
            pg.wait_for_selector(IDLE, timeout=180_000)
            assert pg.locator("[data-testid='stException']").count() == 0, page
            assert pg.evaluate(SIDEWAYS) == {"page": PHONE["width"], "main": False, "tables": [], "wide": []}, page
            assert pg.locator("[data-testid='stSidebar'][aria-expanded='true']").count() == 0, page
    finally:
        context.close()


def test_live_training_can_be_cancelled(server, browser):
    """A lecturer starts a live run, then cancels it: the run stops, adds no point, and the panel stays open
    with "Train now" ready. Every wait is for a state, so a busy machine only makes it slower."""
    from playwright.sync_api import expect

    pg = _open(browser, f"{server}/data")
    try:
        pg.get_by_text("Run a small experiment now").click()
        train = pg.get_by_role("button", name="Train now")
        expect(train).to_be_enabled(timeout=60_000)
        # the run's progress bar, or the note that it waits for another session's run
        _act_until(pg, lambda: train.is_enabled() and train.click(),
                   "[data-testid='stProgress'], [data-testid='stAlertContentWarning']")
        pg.get_by_role("button", name="Cancel").click()
        expect(pg.locator("[data-testid='stProgress']")).to_have_count(0, timeout=120_000)
        train = pg.get_by_role("button", name="Train now")
        expect(train).to_be_visible(timeout=120_000)  # the panel did not fold away
        expect(train).to_be_enabled(timeout=120_000)
        pg.wait_for_selector(IDLE, timeout=120_000)
        assert pg.get_by_role("button", name="Clear live points").count() == 0  # no point was added
        assert pg.locator("[data-testid='stException']").count() == 0
    finally:
        pg.close()


def test_an_oversized_timm_name_gets_a_message_and_the_page_keeps_working(server, browser):
    """A visitor types a 1-billion-parameter model: it is refused at once, and the sweep of the others is drawn."""
    from playwright.sync_api import expect

    pg = _open(browser, f"{server}/sensitivity")
    try:
        box = pg.get_by_label("Add a timm model")
        box.fill("timm:vit_giant_patch14_clip_224")
        box.press("Enter")
        expect(pg.get_by_text("1,013 M parameters", exact=False)).to_be_visible(timeout=120_000)
        pg.wait_for_selector(IDLE, timeout=120_000)
        assert pg.locator("[data-testid='stException']").count() == 0
        assert pg.locator("[data-testid='stVegaLiteChart']").count() >= 1  # cnn and vit are still swept and drawn
    finally:
        pg.close()


def test_clicking_the_sensitivity_chart_shows_that_frame(server, browser):
    """A click on the line chart's left part shows a frame with the object on the left, then on the right part one
    with the object on the right (the frame first shown is the least confident one, at x = 41)."""
    import re

    pg = _open(browser, f"{server}/sensitivity")
    try:
        caption = pg.locator("[data-testid='stImageCaption']").filter(has_text="object at x=").first

        def x_shown():
            return int(re.search(r"x=(\d+)", caption.inner_text()).group(1))

        chart = pg.locator("[data-testid='stVegaLiteChart']").first
        chart.scroll_into_view_if_needed()
        seen = [x_shown()]
        for fx in (0.25, 0.75):
            box = chart.bounding_box()
            pg.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * 0.5)
            pg.wait_for_function("([sel, old]) => { const e = [...document.querySelectorAll(sel)]"
                                 ".find(e => e.innerText.includes('object at x=')); "
                                 "return e && !e.innerText.includes(`x=${old},`); }",
                                 arg=["[data-testid='stImageCaption']", seen[-1]], timeout=120_000)
            pg.wait_for_selector(IDLE, timeout=120_000)
            seen.append(x_shown())
        assert seen[1] < 22 < seen[2], seen  # the path runs x = 0..44 from left to right
        assert pg.locator("[data-testid='stException']").count() == 0
    finally:
        pg.close()


def test_the_tour_answers_its_keys_and_keeps_the_step_in_the_url(server, browser):
    """A lecturer's keys: ↓ reveals, → and ← move between steps (the URL follows, so a reload stays there), and a
    revealed step stays revealed when the lecture comes back to it."""
    from playwright.sync_api import expect

    pg = _open(browser, f"{server}/tour?step=3")
    try:
        success = pg.locator("[data-testid='stAlertContentSuccess']")
        expect(pg.locator("h1").first).to_contain_text("3/11")
        assert success.count() == 0
        # the key is bound once the button is drawn and enabled (a key pressed before that is lost, as for a person)
        expect(pg.locator("[data-testid='stButton'] button", has_text="Reveal")).to_be_enabled(timeout=60_000)
        # the answer, or what stopped it (a warning or an exception), so that a failure says which
        outcome = ", ".join(f"[data-testid='{k}']" for k in ("stAlertContentSuccess", "stAlertContentWarning",
                                                             "stException"))
        _act_until(pg, lambda: pg.keyboard.press("ArrowDown"), outcome)
        assert success.count() == 1, pg.locator(outcome).all_inner_texts()
        pg.keyboard.press("ArrowRight")
        expect(pg.locator("h1").first).to_contain_text("4/11", timeout=120_000)
        expect(success).to_have_count(0, timeout=120_000)
        expect(pg).to_have_url(re.compile(r"step=4"), timeout=60_000)
        pg.keyboard.press("ArrowLeft")
        expect(pg.locator("h1").first).to_contain_text("3/11", timeout=120_000)
        expect(success).to_have_count(1, timeout=120_000)
    finally:
        pg.close()
