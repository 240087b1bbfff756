"""Headless Chromium (Debian ``chromium`` + ``chromium-driver``) driven by selenium, offline.

Only ``file://`` pages are opened; every networking feature that Chromium would otherwise use in
the background is switched off, and each browser gets a fresh profile directory.
"""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)


def find_chromium() -> tuple[str, str] | None:
    """(browser, driver) paths, or None when either is missing."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@contextmanager
def headless_chromium(width: int = 1300, height: int = 1000) -> Iterator[Any]:
    """A selenium driver with browser-console logging; quits and removes its profile afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    found = find_chromium()
    if found is None:
        raise RuntimeError("chromium and chromedriver are needed: apt-get install chromium chromium-driver")
    browser, driver_path = found
    profile = tempfile.mkdtemp(prefix="unified-bench-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def open_page(driver: Any, path: Path) -> list[str]:
    """Load a local file and return the console messages of level SEVERE (errors) it produced."""
    driver.get_log("browser")  # drop anything left from a previous page
    driver.get(Path(path).resolve().as_uri())
    driver.execute_script("return document.readyState")
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def console_errors(driver: Any) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def full_page_screenshot(driver: Any, target: Path, *, max_height: int = 4000) -> Path:
    """Resize the window to the page (up to ``max_height`` px) and save a PNG."""
    width = driver.get_window_size()["width"]
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(int(height) + 40, max_height))
    driver.execute_script("window.scrollTo(0, 0)")
    target.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(target))
    return target


def emulate_phone(driver: Any, width: int = 390, height: int = 844) -> None:
    """Render as a phone of ``width`` CSS pixels (mobile viewport, touch-sized layout) until ``reset``."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": True},
    )


def reset_emulation(driver: Any) -> None:
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def phone_screenshot(driver: Any, target: Path, *, width: int = 390, max_height: int = 4000) -> Path:
    """A full-page PNG of the current page as a ``width`` px phone shows it."""
    emulate_phone(driver, width)
    height = min(int(driver.execute_script("return document.documentElement.scrollHeight")), max_height)
    emulate_phone(driver, width, height)
    driver.execute_script("window.scrollTo(0, 0)")
    target.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(target))
    return target
