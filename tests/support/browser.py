"""A real headless browser for the web console's tests: Debian's ``chromium`` driven
through ``chromium-driver`` by selenium.

:func:`chromium` yields a WebDriver with its own ``--user-data-dir`` under the test's
tmp directory (so parallel tests share nothing), ``--headless=new`` and ``--no-sandbox``
(Chromium refuses to run as root with its sandbox). Both binaries are located on PATH
(``chromium``/``chromium-browser``, ``chromedriver``) and passed explicitly, so selenium
never tries to download a browser. A missing one skips the test, or fails it under
``CI=true`` (``scripts/bootstrap`` installs them there).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.deps import missing_dependency

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
except ImportError:  # pragma: no cover - the test profile installs selenium
    webdriver = None  # type: ignore[assignment]


def browser_binaries() -> tuple[str, str] | None:
    """``(chromium, chromedriver)`` from PATH, or None when either is missing."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@contextmanager
def chromium(tmp: Path, width: int = 1400, height: int = 900) -> Iterator[webdriver.Chrome]:
    """A headless Chromium WebDriver, quit on exit."""
    found = browser_binaries()
    if webdriver is None:
        missing_dependency("selenium (pip install the test profile: scripts/bootstrap)")
    if found is None:
        missing_dependency("chromium and chromium-driver (apt-get install chromium "
                           "chromium-driver; scripts/bootstrap does it under CI=true)")
    browser, driver_path = found
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    profile = tmp / "chromium-profile"
    profile.mkdir(parents=True, exist_ok=True)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}",
                f"--window-size={width},{height}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()
