"""Helpers of the browser tests: signing in, screenshots, and what a page must satisfy
whatever it shows (no script errors, labelled controls, nothing wider than the screen)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from playwright.sync_api import Page, expect

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
DOCS = ROOT / "docs" / "screenshots"
# Screenshots for the README are refreshed on request only, so that a test run does not
# rewrite committed images (relative times differ on every run).
UPDATE_DOCS = os.environ.get("GURULU_UPDATE_SCREENSHOTS") == "1"


def sign_in(page: Page, url: str, key: str) -> None:
    page.goto(f"{url}/app/login")
    page.get_by_label("Secret key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{url}/app/audiences")


def shot(page: Page, name: str, docs: bool = False) -> Path:
    """A full-page screenshot in test-artifacts/screenshots (and docs/screenshots when
    asked for with GURULU_UPDATE_SCREENSHOTS=1)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if docs and UPDATE_DOCS:
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS / f"{name}.png")
    return path


UNLABELLED = """
() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
  .filter(el => el.offsetParent !== null)
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !(el.tagName === 'BUTTON' && el.textContent.trim()))
  .map(el => el.outerHTML.slice(0, 120))
"""


def assert_accessible(page: Page) -> None:
    """Landmarks, one h1, and every visible control labelled."""
    assert page.locator("main#main").count() == 1
    assert page.locator("h1").count() == 1
    assert page.evaluate(UNLABELLED) == []


def assert_fits(page: Page) -> None:
    """Nothing scrolls sideways: the page is readable at the viewport's width."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page is {width}px wide"
