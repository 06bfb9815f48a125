#!/usr/bin/python3
"""The attention explorer, tested in a real browser (make test-browser): starts `translator serve` on a
free loopback port with a small model trained here, drives headless Chromium through Selenium, types a
sentence as a user would, waits for the heatmap, and checks the page against the API: one row per
target word (and </s>), one column per source word (and </s>), the weight the page shows on hover is
the API's, clicking a written word lights the source words it read, the n-best list's first entry is
the translation, and the page fits a phone's width. Then `translator train --serve`: the page in
training mode gains curve points and new attention snapshots as training runs. With --screenshots DIR,
screenshots of both pages.

Usage: tests/browser/explorer.py TRANSLATOR WORKDIR [--screenshots DIR]
Needs Debian's chromium, chromium-driver and python3-selenium; run with /usr/bin/python3.
"""
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

failures = []


def check(ok, what):
    print(("ok      " if ok else "FAILED  ") + what)
    if not ok:
        failures.append(what)


def run(*args):
    subprocess.run([str(a) for a in args], check=True, stdout=subprocess.DEVNULL)


def api(port, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    with urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data)) as r:
        return json.loads(r.read())


def main():
    translator, work = sys.argv[1], sys.argv[2]
    shots = sys.argv[sys.argv.index("--screenshots") + 1] if "--screenshots" in sys.argv else None
    os.makedirs(work, exist_ok=True)
    for split, n, seed in (("train", 3000, 1), ("valid", 100, 2)):
        run(translator, "generate", "--task", "local", "--n", n, "--seed", seed, "--max-len", 10, "--split", split,
            "--out", os.path.join(work, split))
    model = os.path.join(work, "model")
    run(translator, "train", "--train", os.path.join(work, "train.tsv"), "--valid", os.path.join(work, "valid.tsv"),
        "--out", model, "--epochs", 3, "--emb", 16, "--hidden", 32, "--attn", 16, "--force")

    server = subprocess.Popen([translator, "serve", "--checkpoint", model, "--port", "0"], stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
    check("this machine only" in line, f"the server says where it listens, on loopback: {line.strip()}")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        wait = WebDriverWait(driver, 20)
        driver.get(f"http://127.0.0.1:{port}/")
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
        sentence = "the big dog sees a small cat"
        box = driver.find_element(By.ID, "source")
        for word in sentence.split(" "):  # typed as a user types, pausing between words
            box.send_keys(word + " ")
            time.sleep(0.05)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "table.heatmap td.cell"))
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-translated"))
        expected = api(port, "/api/translate", {"text": sentence + " ", "model": 0, "beam": 1, "n_best": 1})
        rows = driver.find_elements(By.CSS_SELECTOR, "table.heatmap tbody tr")
        cols = driver.find_elements(By.CSS_SELECTOR, "table.heatmap thead th.source")
        check(len(rows) == len(expected["target"]), f"one row per target word and </s>: {len(rows)} rows, {expected['target']}")
        check(len(cols) == len(expected["source"]) == len(sentence.split()) + 1,
              f"one column per source word and </s>: {len(cols)} columns")
        check([c.text for c in cols] == expected["source"], "the columns are the source words")
        shown = driver.find_element(By.CSS_SELECTOR, ".model .translation").text
        check(shown == expected["text"], f"the translation shown is the API's: '{shown}'")

        # hover a cell: the weight the page says is the API's
        i, j = 1, 2
        cell = rows[i].find_elements(By.CSS_SELECTOR, "td.cell")[j]
        ActionChains(driver).move_to_element(cell).perform()
        wait.until(lambda d: d.find_element(By.ID, "hover").text)
        hover = driver.find_element(By.ID, "hover").text
        weight = float(hover.rsplit(":", 1)[1])
        check(abs(weight - expected["attention"][i][j]) < 5e-4,
              f"hover shows {hover!r}; the API's weight is {expected['attention'][i][j]:.6f}")

        # click a written word: the source words it read light up, the largest among them
        rows[i].find_element(By.CSS_SELECTOR, "th.target").click()
        lit = [int(e.get_attribute("data-col")) for e in driver.find_elements(By.CSS_SELECTOR, "thead th.source.lit")]
        best = max(range(len(expected["source"])), key=lambda c: expected["attention"][i][c])
        check(best in lit, f"clicking '{expected['target'][i]}' lights the source words it read {lit}, among them the most read ({best})")

        # beam 4 and the 3 best: the list's first entry is the translation
        Select(driver.find_element(By.ID, "beam")).select_by_value("4")
        Select(driver.find_element(By.ID, "nbest")).select_by_value("3")
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "ol.nbest li")) == 3)
        beam = api(port, "/api/translate", {"text": sentence + " ", "beam": 4, "n_best": 3})
        first = driver.find_elements(By.CSS_SELECTOR, "ol.nbest li")[0].text
        check(first.startswith(beam["n_best"][0]["text"]) and beam["n_best"][0]["text"] == beam["text"],
              f"the n-best list's first entry is the translation: '{first}'")
        if shots:
            os.makedirs(shots, exist_ok=True)
            driver.save_screenshot(os.path.join(shots, "explorer.png"))

        # a phone's width: nothing wider than the screen but the heatmap's own scrolling box
        driver.set_window_size(390, 844)
        time.sleep(0.3)
        width = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        check(width[0] <= width[1], f"fits a phone's width: page {width[0]} px in a window of {width[1]}")
        if shots:
            driver.save_screenshot(os.path.join(shots, "explorer-phone.png"))
    finally:
        server.terminate()
        code = server.wait(timeout=10)
        check(code == 0, f"SIGTERM stops the server cleanly (exit {code})")

    # translator train --serve: the page in training mode, updated as training runs
    try:
        driver.set_window_size(1100, 900)
        training = subprocess.Popen([translator, "train", "--train", os.path.join(work, "train.tsv"), "--valid",
                                     os.path.join(work, "valid.tsv"), "--out", os.path.join(work, "watched"), "--epochs", "1000", "--time-limit", "12",
                                     "--emb", "16", "--hidden", "32", "--attn", "16", "--valid-every", "40", "--serve", "0"],
                                    stdout=subprocess.PIPE, text=True)
        line = training.stdout.readline()
        check("watch training at http://127.0.0.1:" in line, f"train --serve says where: {line.strip()}")
        port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
        driver.get(f"http://127.0.0.1:{port}/")
        wait = WebDriverWait(driver, 60)
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")
        # read in the page's own script: the elements are redrawn with every event
        count = lambda: driver.execute_script(
            "const p = document.querySelector(\"polyline[data-label='training loss']\"); return p ? Number(p.dataset.count) : -1")
        first = count()
        wait.until(lambda d: count() > first + 1)
        check(count() > first + 1, f"the training page's curve gains points as training runs ({first} -> {count()})")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "table.heatmap td.cell"))
        step_of = lambda: driver.execute_script("const h = document.querySelector('.model h2'); return h ? h.textContent : ''")
        seen = step_of()
        wait.until(lambda d: step_of() != seen)
        check(step_of() != seen, f"a newer validation's attention replaces the last ({seen!r} -> {step_of()!r})")
        if shots:
            driver.save_screenshot(os.path.join(shots, "training.png"))
        rest = training.stdout.read()
        check(training.wait(timeout=120) == 0, "training under --serve ends normally")
        cost = re.search(r"watching cost training [\d.]+ s on its thread and [\d.]+ s of CPU on the server's threads: "
                         r"[\d.]+% of .*; (\d+) updates sent", rest)
        check(cost is not None and int(cost.group(1)) >= 2,
              f"training reports what watching cost it, and the updates the page was sent: {cost.group(0) if cost else rest!r}")
    finally:
        driver.quit()
    print("browser: ok" if not failures else f"browser: {len(failures)} FAILED")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
