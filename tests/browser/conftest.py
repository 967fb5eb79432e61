"""Browser tests: the web app in a real headless Chromium (Debian's /usr/bin/chromium,
driven by Playwright for Python; never a browser that Playwright downloads).

One system runs for the whole package: `gurulu up` in a child process, on a data dir
preloaded with the demo shop (a month of audience history for the charts), plus fresh
workspaces made through the admin API for the tests that need an empty one.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.e2e.conftest import System, start_system, stop_system

from .support import ROOT

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Running:
    system: System
    demo_key: str

    @property
    def url(self) -> str:
        return self.system.url


@pytest.fixture(scope="package")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data_dir = tmp_path_factory.mktemp("web") / "data"
    preload = subprocess.run(
        [sys.executable, "-m", "tests.browser.demo_preload", str(data_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    system = start_system(data_dir)
    yield Running(system, preload.stdout.strip().splitlines()[-1])
    stop_system(system)


# Package scope, not session: Playwright's sync API runs an event loop of its own in this
# thread while it is open, and the async tests that follow need the thread to themselves.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: run scripts/test, which installs it"
            " with apt-get (the browser tests never download a browser)."
        )
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
    yield launched
    launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) at desktop size; script and console errors
    fail the test."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, accept_downloads=True, locale="en-GB"
    )
    context.set_default_timeout(20_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    # Console errors too (a CSP refusal shows only there); pages a test asks for on
    # purpose with an error status (404, 403) are not the page's fault.
    opened.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and "Failed to load resource" not in message.text
            else None
        ),
    )
    yield opened
    context.close()
    assert errors == [], f"script errors on the page: {errors}"
