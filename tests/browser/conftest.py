"""Fixtures for the browser tests: one sandbox and one console per session, Chromium, and failure screenshots.

The console starts on a fresh SQLite file, so the first test that looks at it
(the first-visit test, moved to the front below) finds an empty store.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.browser.launch import ROOT, ConsoleProcess, LaunchFailed, SandboxProcess, chromium_launch_options

try:
    from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
except ImportError:  # playwright_browser fails with the install command
    sync_playwright = None

# Every wait for an element gives up after this many milliseconds.
WAIT_MS = 30_000
SCREENSHOTS = ROOT / "var" / "screenshots"
FIRST_VISIT_TEST = "test_first_visit.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The first-visit test needs the session console's store still empty, so it runs
    # before the other browser tests; `--dist loadgroup` keeps them on one worker in this order.
    first = [item for item in items if item.path.name == FIRST_VISIT_TEST]
    if first:
        rest = [item for item in items if item.path.name != FIRST_VISIT_TEST]
        items[:] = first + rest


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="roleferry-browser-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def sandbox(workdir: Path) -> Iterator[SandboxProcess]:
    server = SandboxProcess(workdir)
    try:
        server.start()
    except LaunchFailed as exc:
        server.stop()
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


def _start_console(directory: Path, sandbox: SandboxProcess, roles: str = "") -> ConsoleProcess:
    directory.mkdir(exist_ok=True)
    console = ConsoleProcess(directory, sandbox.url, roles=roles)
    try:
        console.start()
    except LaunchFailed as exc:
        console.stop()
        pytest.fail(str(exc), pytrace=False)
    return console


@pytest.fixture(scope="session")
def console(workdir: Path, sandbox: SandboxProcess) -> Iterator[ConsoleProcess]:
    """The console with every role, on a store that starts empty."""
    server = _start_console(workdir / "console", sandbox)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def playwright_browser() -> Iterator[Browser]:
    if sync_playwright is None:
        pytest.fail("the playwright package is missing; install the dev extra: pip install -e '.[dev]'",
                    pytrace=False)
    try:
        options = chromium_launch_options()
    except LaunchFailed as exc:
        pytest.fail(str(exc), pytrace=False)
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**options)
        yield browser
        browser.close()


@pytest.fixture
def browser_context(playwright_browser: Browser) -> Iterator[BrowserContext]:
    context = playwright_browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    context.set_default_timeout(WAIT_MS)
    yield context
    context.close()


@pytest.fixture
def page(browser_context: BrowserContext) -> Page:
    return browser_context.new_page()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    context = getattr(item, "funcargs", {}).get("browser_context")
    if report.when != "call" or not report.failed or context is None:
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.name)
    saved = []
    for index, open_page in enumerate(context.pages):
        path = SCREENSHOTS / f"{stem}-{index}.png"
        try:
            open_page.screenshot(path=str(path), full_page=True)
        except Exception as exc:  # a crashed page must not hide the test's own failure
            saved.append(f"{path}: not saved ({exc})")
        else:
            saved.append(f"{path} ({open_page.url})")
    report.sections.append(("screenshots", "\n".join(saved) or "no page was open"))


@pytest.fixture
def apollo_outage(console: ConsoleProcess, sandbox: SandboxProcess) -> Iterator[Callable[[], None]]:
    """Return a function that takes Apollo down in the sandbox; bring it back after the test.

    Closing the breaker with the CLI's reset stops the next test from finding it open.
    """
    def take_down() -> None:
        sandbox.set_fault("apollo", "down")

    yield take_down
    sandbox.set_fault("apollo", "normal")
    result = console.cli("breaker", "apollo", "reset", "--reason", "browser test restores Apollo")
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="session")
def leadership_console(workdir: Path, sandbox: SandboxProcess) -> Iterator[ConsoleProcess]:
    """A second console whose sandbox user has only the leadership role, on a store with 45 days of history."""
    directory = workdir / "leadership"
    directory.mkdir()
    seeder = ConsoleProcess(directory, sandbox.url)
    seeded = seeder.cli("sandbox", "seed-history", "--days", "45", timeout=120)
    if seeded.returncode != 0:
        pytest.fail(f"seed-history failed with exit code {seeded.returncode}: {seeded.stderr}", pytrace=False)
    server = _start_console(directory, sandbox, roles="leadership")
    yield server
    server.stop()
