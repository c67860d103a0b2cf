"""A real browser for the web pages' tests: Debian's Chromium (never one Playwright downloads), driven by Playwright,
headless, with a fresh profile and nothing that reaches outside the machine."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling Google's hosts, which a closed network refuses.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
BROWSER_TIMEOUT_MS = 20_000


def chromium_executable() -> str:
    """The system's Chromium, or a failure that says what to install (a missing browser fails, never skips)."""
    found = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which(CHROMIUM)
    if not found:
        pytest.fail(
            f"The browser tests need Chromium at {CHROMIUM}, which is missing: install Debian's package `chromium` "
            "(`apt-get install -y --no-install-recommends chromium`; `./dev test` does this itself when run as root "
            "on Debian), or set CHROMIUM to another Chromium's path.",
            pytrace=False,
        )
    return found


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A Chromium profile of its own (a new --user-data-dir) for a module's tests; every wait in it is bounded."""
    from playwright.sync_api import sync_playwright

    executable = chromium_executable()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=executable, headless=True,
            args=CHROMIUM_FLAGS, viewport={"width": 1280, "height": 900}, timeout=BROWSER_TIMEOUT_MS,
        )  # fmt: skip
        context.set_default_timeout(BROWSER_TIMEOUT_MS)
        context.set_default_navigation_timeout(BROWSER_TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


def screenshot_path() -> Path | None:
    """Where the README's screenshot is written when `UPDATE_SCREENSHOTS=1` (else nothing in the checkout changes)."""
    return Path(__file__).resolve().parents[2] / "docs" if os.environ.get("UPDATE_SCREENSHOTS") == "1" else None
