"""Three browser sessions at once on one `streamlit run` server: each sees only its own shift, and a hostile
upload in a third session gets a clear error while the others carry on. (The full load test with timings is
`python -m bench.load_test`; this is its small, quick core.)"""
import asyncio
import os

import pytest

from bench.bench_app import (
    ARGS,
    CHROMIUM,
    free_port,
    healthy,
    start_server,
    stop_server,
    wait_healthy,
)
from bench.load_test import DX, ERR, EXC, RUN_COUNTER, Session

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")]


async def _drive(url: str, log: dict) -> dict:
    from playwright.async_api import async_playwright

    seen = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            sessions = []
            for sid in ("a", "b", "hostile"):
                ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
                ctx.set_default_timeout(60_000)
                await ctx.add_init_script(RUN_COUNTER)
                sessions.append(Session(sid, ctx, url, log))

            async def shifter(s: Session, dx: int, dy: int):
                await s.open(f"/equivariance?dx={dx}&dy={dy}", "test")
                await s.update(lambda: s.slider_keys(DX, ["ArrowRight", "ArrowRight"]),
                               lambda: s.text(f"T = shift ({dx + 2}, {dy})"), "test", "/equivariance", "dx")
                body = await s.page.inner_text("body")
                seen[s.sid] = {"body": body, "url": s.page.url, "exceptions": await s.page.locator(EXC).count()}

            async def hostile(s: Session):
                await s.open("/equivariance", "test")
                await s.select("Image", "Upload…")
                await s.settle()
                await s.page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
                    {"name": "photo.png", "mimeType": "image/png", "buffer": os.urandom(20_000)})
                await s.page.locator(ERR).first.wait_for()
                seen[s.sid] = {"errors": await s.page.locator(ERR).all_inner_texts(),
                               "exceptions": await s.page.locator(EXC).count()}

            await asyncio.gather(shifter(sessions[0], 7, -3), shifter(sessions[1], 31, 12), hostile(sessions[2]))
        finally:
            await browser.close()
    return seen


def test_sessions_see_only_their_own_results_and_a_hostile_upload_gets_an_error():
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_server(port)
    log = {"timings": [], "checks": [], "failures": [], "faults": []}
    try:
        wait_healthy(url, proc)
        seen = asyncio.run(asyncio.wait_for(_drive(url, log), 150))
        assert healthy(url)
    finally:
        stop_server(proc)
    a, b, bad = seen["a"], seen["b"], seen["hostile"]
    assert "T = shift (9, -3)" in a["body"] and "T = shift (33, 12)" not in a["body"]
    assert "T = shift (33, 12)" in b["body"] and "T = shift (9, -3)" not in b["body"]
    assert "dx=9" in a["url"] and "dx=33" in b["url"]
    assert a["exceptions"] == b["exceptions"] == 0
    assert bad["exceptions"] == 0
    assert any("Cannot use" in e and "photo.png" in e for e in bad["errors"]), bad["errors"]
