"""The review page in a real browser (issue 26): Debian's Chromium driven by Selenium through
the system chromedriver (nothing is downloaded). Label five images with the keyboard, reload
and see them kept, check labels.csv, propagate again and see the round change, and a traversal
URL gets 404. The screenshot it takes is the README's (set DEEPLABELPROP_SCREENSHOT to keep it)."""

import csv
import os
import shutil
import time
import urllib.request
from pathlib import Path

import pytest

from tests.review.server import serve

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")

HAVE_BROWSER = CHROMIUM.exists() and CHROMEDRIVER.exists()
if not HAVE_BROWSER and os.environ.get("DEEPLABELPROP_REQUIRE_BROWSER"):  # CI: never skip
    raise RuntimeError(
        f"{CHROMIUM} or {CHROMEDRIVER} is missing; apt-get install chromium chromium-driver"
    )
pytestmark = pytest.mark.skipif(
    not HAVE_BROWSER,
    reason="no browser: install Debian's chromium and chromium-driver (.ci/run does)",
)


@pytest.fixture
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    # the system chromedriver by path: Selenium Manager never runs (it would download)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def wait_for(check, timeout=30.0, what="the page"):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_label_with_the_keyboard_reload_propagate_again(fresh_run, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    root, run = fresh_run
    before = (run / "pseudo_labels.csv").read_text()
    with serve(run) as (base, token, _):
        url = f"{base}/?token={token}"
        browser.get(url + "#class=zero")
        cards = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".card"), what="cards")
        wait_for(
            lambda: browser.execute_script(
                "return [...document.images].every(i => i.complete && i.naturalWidth > 0)"
            ),
            what="thumbnails",
        )
        keys = [c.get_attribute("title") for c in cards]
        unlabeled = [k for k in keys if k.startswith("unlabeled/")]
        first = keys.index(unlabeled[0])
        body = browser.find_element(By.TAG_NAME, "body")
        for _ in range(first):
            body.send_keys("s")  # skip to the first image nobody labeled
        # five images: 2 = "two" (the class keys follow the sorted classes), Enter accepts
        # the guess (zero), x would be "none of these"
        presses = ["2", Keys.ENTER, Keys.ENTER, "1", Keys.ENTER]
        for key in presses:
            body.send_keys(key)
            wait_for(lambda: "(" in browser.find_element(By.ID, "status").text, what="a save")
            browser.execute_script("document.getElementById('status').textContent = ''")
        expected = dict(
            zip(keys[first : first + 5], ["two", "zero", "zero", "one", "zero"], strict=True)
        )
        named = {r["path"]: r["label"] for r in csv.DictReader(open(root / "labels.csv"))}
        assert named == expected
        browser.refresh()  # kept after a reload
        wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".card"), what="cards again")
        shown = {
            c.get_attribute("title"): c.find_element(By.CSS_SELECTOR, ".label").text
            for c in browser.find_elements(By.CSS_SELECTOR, ".card")
        }
        assert {k: shown[k] for k in expected} == {k: f"labeled {v}" for k, v in expected.items()}
        screenshot = tmp_path / "review.png"
        browser.save_screenshot(str(screenshot))
        if os.environ.get("DEEPLABELPROP_SCREENSHOT"):
            shutil.copyfile(screenshot, os.environ["DEEPLABELPROP_SCREENSHOT"])
        # propagate again: the round changes and the pseudo labels are new
        browser.get(url + "#overview")
        wait_for(lambda: browser.find_element(By.ID, "round").text == "1", what="round 1")
        browser.find_element(By.ID, "propagate").click()
        wait_for(
            lambda: browser.find_element(By.ID, "round").text == "2", timeout=120, what="round 2"
        )
        assert "labels: 5 added" in browser.find_element(By.ID, "since").text
        assert (run / "pseudo_labels.csv").read_text() != before
        # a traversal URL in the browser: 404
        for path in ("/thumb/../../etc/passwd", "/thumb/%2e%2e%2f%2e%2e%2fetc%2fpasswd"):
            try:
                urllib.request.urlopen(f"{base}{path}?token={token}")
                status = 200
            except urllib.error.HTTPError as exc:
                status = exc.code
            assert status == 404
            browser.get(f"{base}{path}?token={token}")
            assert "root:" not in browser.page_source
