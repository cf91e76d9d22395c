"""The page at / in a real headless browser (Debian's chromium through selenium) against a real
`tts serve`: type, pick a voice, speak; the audio streams into Web Audio and the words light up in
order. Skipped, with the reason, only where chromium, its driver or selenium is not installed."""

from __future__ import annotations

import shutil
import time

import pytest

from tests.utils import Server

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the dev extra)")

pytestmark = pytest.mark.serve

KEY = "page-key-42"
TEXT = "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background."


def _binary(*names: str) -> str | None:
    return next((path for name in names if (path := shutil.which(name))), None)


@pytest.fixture(scope="module")
def browser():
    chromium = _binary("chromium", "chromium-browser", "google-chrome")
    driver_path = _binary("chromedriver")
    if not chromium or not driver_path:
        pytest.skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--autoplay-policy=no-user-gesture-required", "--mute-audio"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def server():
    srv = Server("--acoustic", "ort-fp32", key=KEY, wyoming=False)
    try:
        yield srv
    finally:
        srv.kill()


def wait_for(driver, script: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {script!r}: state {driver.execute_script('return window.ttsState')}")


def test_the_page_is_served_without_a_key_and_its_api_calls_need_one(server):
    page = httpx.get(server.url + "/", timeout=10)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="app.js">' in page.text
    script = httpx.get(server.url + "/app.js", timeout=10)
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "://" not in page.text + script.text  # no CDN, nothing from elsewhere: all of it is here
    assert httpx.get(server.url + "/v1/audio/voices", timeout=10).status_code == 401


def test_typing_and_speaking_streams_audio_and_highlights_each_word_in_order(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(server.url + "/")
    browser.find_element(By.ID, "key").send_keys(KEY + "\t")  # the change event lists the voices
    wait_for(browser, "return window.ttsState.voices.includes('piper-joe')", 30)
    Select(browser.find_element(By.ID, "voice")).select_by_value("piper-joe")
    text = browser.find_element(By.ID, "text")
    text.clear()
    text.send_keys(TEXT)
    browser.find_element(By.ID, "speak").click()
    wait_for(browser, "return window.ttsState.samplesScheduled > 0", 30)
    assert browser.execute_script("return window.ttsState.playing")  # audio started before the stream ended
    state = wait_for(browser, "const s = window.ttsState; return s.done && !s.playing && s", 90)
    assert state["error"] is None
    assert state["bytes"] > 0 and state["bytes"] == 2 * state["samplesScheduled"]
    assert state["samplesScheduled"] / state["rate"] > 3  # two sentences of audio, all scheduled
    assert state["contextState"] == "running"  # the clock ran: the words below were reached by playing
    words = [w["word"] for w in state["words"]]
    assert words == TEXT.replace(".", "").split()
    lit = state["highlighted"]
    assert lit == sorted(set(lit))  # in order, each once
    # a word shorter than a frame of a loaded headless browser may pass unseen, not most of them
    assert lit[0] <= 1 and lit[-1] == len(words) - 1 and len(lit) >= 0.6 * len(words), lit
    spans = browser.find_elements(By.CSS_SELECTOR, "#words span")
    assert [s.text for s in spans] == words
    assert browser.find_element(By.ID, "speak").is_enabled()
