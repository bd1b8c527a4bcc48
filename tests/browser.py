"""Headless Chromium (Debian's chromium + chromedriver) driven by Selenium, for the report tests.

Without a browser the tests FAIL and say how to install one; they never skip.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
INSTALL = ("no headless browser: install Debian's Chromium with `apt-get install -y chromium chromium-driver` "
           "(or run `make browser` as root); the report tests need /usr/bin/chromium and /usr/bin/chromedriver")


def browser_paths() -> tuple[str, str]:
    chromium = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    driver = CHROMEDRIVER if Path(CHROMEDRIVER).exists() else shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.fail(INSTALL, pytrace=False)
    return chromium, driver


def open_browser(profile_dir: Path, width: int = 1366, height: int = 900):
    """A fresh headless Chromium with its browser log kept (goog:loggingPrefs)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = browser_paths()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                f"--user-data-dir={profile_dir}", f"--window-size={width},{height}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        return webdriver.Chrome(service=Service(driver), options=options)
    except Exception as exc:  # a broken install is a failure with the fix, not a skip
        pytest.fail(f"{INSTALL}\nstarting it failed: {type(exc).__name__}: {str(exc).splitlines()[0]}", pytrace=False)


def check_page(driver, html: Path, sections: list[str], screenshot: Path) -> dict:
    """Load ``html``; assert no console errors, every image decoded, every section present; save a screenshot."""
    from selenium.webdriver.common.by import By

    driver.get(html.resolve().as_uri())
    driver.execute_script("return document.readyState")
    errors = [e for e in driver.get_log("browser") if e.get("level") in {"SEVERE", "ERROR"}]
    assert not errors, f"console errors: {errors}"
    images = driver.find_elements(By.TAG_NAME, "img")
    assert images, "the report has no images"
    broken = driver.execute_script(
        "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt)")
    assert broken == [], f"images that did not decode: {broken}"
    widths = driver.execute_script("return Array.from(document.images).map(i => i.naturalWidth)")
    for key in sections:
        assert driver.find_elements(By.ID, key), f"section '{key}' missing"
    external = driver.execute_script(
        "return Array.from(document.querySelectorAll('[src],[href]')).map(e => e.getAttribute('src') || "
        "e.getAttribute('href')).filter(u => /^(https?:)?\\/\\//.test(u))")
    assert external == [], f"the report reaches the network: {external}"
    assert driver.save_screenshot(str(screenshot)), "screenshot failed"
    overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    return {"n_images": len(images), "widths": widths, "horizontal_overflow": overflow}
