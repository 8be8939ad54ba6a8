"""Headless Debian Chromium driven by selenium, for tests that look at pages as a person would.

The browser is Debian's `chromium` with its `chromium-driver`, installed by
`.ci/run` where missing; the driver's path is given explicitly so that
Selenium Manager never tries to download a browser or a driver (this machine,
and CI, have no route to one). The flags keep Chromium from calling home: on a
closed network each of its background connections fails, many at a time.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import REPO, need

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless=new",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-first-run",
    "--window-size=1366,900",
)
# Screenshots go to the test's var folder; with UPDATE_SCREENSHOTS=1 also to
# docs/screenshots/, which is how the pictures in docs/ are made.
DOCS_SCREENSHOTS = REPO / "docs" / "screenshots"


@pytest.fixture
def browser(tmp_path) -> Iterator:
    need(
        CHROMIUM.exists() and CHROMEDRIVER.exists(),
        f"Debian's chromium and chromium-driver are not installed ({CHROMIUM}, {CHROMEDRIVER})",
    )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver, name: str) -> Path:
    """Save the page as `<name>.png` in the var folder (and in docs/screenshots/ when asked); return the path."""
    from django.conf import settings

    folder = Path(settings.VAR_DIR) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(DOCS_SCREENSHOTS / f"{name}.png"))
    return path
