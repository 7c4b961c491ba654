"""The review page on the 60,000-image Fashion-MNIST folder (issue 26), measured in Chromium.

    .venv/bin/python benchmarks/fashion_folder.py --n-labeled 100 -o /tmp/fashion-folder
    deeplabelprop run configs/fashion-mnist/dmt.toml --set dataset=folder:/tmp/fashion-folder \
        --set image_size=28 --set metric.epochs=3 --set finetune.epochs=2 -o /tmp/fashion-run
    .venv/bin/python benchmarks/review_page.py /tmp/fashion-run --repeats 5 [--loop]

1. **First page, cold thumbnail cache**: the thumbnail folder emptied and the browser's cache
   off; time from navigation (``performance.timeOrigin``) until the 50 thumbnails of the largest
   class's first page are rendered (every ``img`` complete with a width), median of
   ``--repeats``; then the same with the cache warm. Also the bytes of JSON the page received.
2. ``--loop``: the whole loop as a person does it, in the browser, with the truth playing the
   person (read from Fashion-MNIST by the folder's opaque file names): look at the classes; fix
   the five least confident images of one class; label the suggested ones (Enter where the guess
   is right, the class's key otherwise); propagate again; the estimated and the true accuracy
   of the pseudo labels before and after.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import machine  # noqa: E402
from fashion_folder import folder_name, opaque  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

from tests.review.server import get, serve  # noqa: E402

RENDERED = """
const done = arguments[arguments.length - 1];
const want = arguments[0];
(function poll() {
  const imgs = [...document.querySelectorAll('.card img')];
  if (imgs.length >= want && imgs.slice(0, want).every(i => i.complete && i.naturalWidth > 0)) {
    done(performance.now());
  } else { setTimeout(poll, 5); }
})();
"""


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
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
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_script_timeout(60)
    return driver


def first_page(driver, url: str, run: Path, cold: bool) -> tuple[float, int]:
    """(ms from navigation to 50 rendered thumbnails, bytes of JSON received)."""
    if cold:
        shutil.rmtree(run / "review" / "thumbs", ignore_errors=True)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": cold})
    driver.get("about:blank")
    driver.get(url)
    ms = driver.execute_async_script(RENDERED, 50)
    sizes = driver.execute_script(
        "return performance.getEntriesByType('resource').filter(e => e.name.includes('/api/'))"
        ".map(e => e.encodedBodySize || e.transferSize)"
    )
    return ms, int(sum(sizes))


def truth_by_path() -> dict[str, str]:
    from deeplabelprop.data import load_dataset

    train = load_dataset("fashion-mnist")
    return {
        f"{where}/{opaque('train', i)}": folder_name(train.classes[train.labels[i]])
        for i in range(len(train))
        for where in ("unlabeled", f"labeled/{folder_name(train.classes[train.labels[i]])}")
    }


def true_accuracy(run: Path, truth: dict[str, str]) -> float:
    rows = [r for r in csv.DictReader(open(run / "pseudo_labels.csv")) if r["given"] != "1"]
    return sum(truth[r["path"]] == r["label"] for r in rows) / len(rows)


def press_labels(driver, truth, classes) -> tuple[int, int]:
    """Label every card shown with its true class: Enter where the guess is right, else the
    class's number key. Returns (accepted, typed)."""
    body = driver.find_element(By.TAG_NAME, "body")
    accepted = typed = 0
    for card in driver.find_elements(By.CSS_SELECTOR, ".card"):
        key = card.get_attribute("title")
        want = truth[key]
        guess = card.text.split("guess ")[1].split(" ·")[0] if "guess " in card.text else None
        driver.execute_script("document.getElementById('status').textContent = ''")
        if guess == want:
            body.send_keys(Keys.ENTER)
            accepted += 1
        else:
            body.send_keys(str(classes.index(want) + 1))
            typed += 1
        deadline = time.monotonic() + 10
        while "(" not in driver.find_element(By.ID, "status").text:
            assert time.monotonic() < deadline, "the label was not saved"
            time.sleep(0.02)
    return accepted, typed


def loop(driver, base: str, token: str, run: Path) -> dict:
    truth = truth_by_path()
    overview = get(base, "/api/overview", token)
    classes = overview["store_classes"]
    before = {
        "estimated": overview["rounds"][-1]["estimated_accuracy"]["value"],
        "true": true_accuracy(run, truth),
    }
    # the five least confident of the class with the most pseudo labels
    big = max(overview["classes"], key=lambda c: c["pseudo"])["name"]
    driver.get("about:blank")  # a new page each time: no grid of the view before
    driver.get(f"{base}/?token={token}#class={big}")
    driver.execute_async_script(RENDERED, 5)
    cards = driver.find_elements(By.CSS_SELECTOR, ".card")
    for extra in cards[5:]:
        driver.execute_script("arguments[0].remove()", extra)
    fixed = press_labels(driver, truth, classes)
    driver.get("about:blank")
    driver.get(f"{base}/?token={token}#next")
    driver.execute_async_script(RENDERED, 5)
    confirmed = press_labels(driver, truth, classes)
    driver.get("about:blank")
    driver.get(f"{base}/?token={token}#overview")
    t0 = time.perf_counter()
    driver.find_element(By.ID, "propagate").click()
    deadline = time.monotonic() + 1800
    while driver.find_element(By.ID, "round").text == str(overview["round"]):
        assert time.monotonic() < deadline
        time.sleep(1)
    seconds = time.perf_counter() - t0
    after = get(base, "/api/overview", token)
    return {
        "class_fixed": big,
        "five_least_confident (accepted, typed)": fixed,
        "suggested (accepted, typed)": confirmed,
        "propagate_again_seconds": round(seconds, 1),
        "before": before,
        "after": {
            "estimated": after["rounds"][-1]["estimated_accuracy"]["value"],
            "true": true_accuracy(run, truth),
        },
        "since_last_round": after["since_last_round"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run", type=Path)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--loop", action="store_true")
    args = p.parse_args()
    print(machine())
    with serve(args.run, timeout=300) as (base, token, _):
        overview = get(base, "/api/overview", token)
        big = max(overview["classes"], key=lambda c: c["pseudo"])["name"]
        url = f"{base}/?token={token}#class={big}"
        driver = browser()
        try:
            first_page(driver, url, args.run, cold=True)  # the browser's own first start
            out = {}
            for cold in (True, False):
                times = [first_page(driver, url, args.run, cold) for _ in range(args.repeats)]
                out["cold" if cold else "warm"] = {
                    "median_ms": round(statistics.median(t for t, _ in times), 1),
                    "max_ms": round(max(t for t, _ in times), 1),
                    "json_bytes": times[-1][1],
                }
            out["images"] = overview["n_images"]
            out["class_shown"] = big
            print(json.dumps(out, indent=1))
            if args.loop:
                print(json.dumps(loop(driver, base, token, args.run), indent=1))
        finally:
            driver.quit()


if __name__ == "__main__":
    main()
