"""Save a screenshot of each console page into docs/screenshots/ (`make screenshots`).

Starts its own sandbox and console on loopback with 45 days of seeded history,
runs one enrichment, one test call and one small backfill so the pages show
real content, and drives Debian's Chromium headless. Nothing is left running.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

from tests.browser.launch import ConsoleProcess, LaunchFailed, SandboxProcess, chromium_launch_options  # noqa: E402
from tests.browser.streamlit_page import open_page, wait_until_idle  # noqa: E402

WAIT_MS = 30_000
VIEWPORT = {"width": 1400, "height": 900}
BACKFILL_CSV = "domain,titles\nacme.com,VP Engineering;CTO\ninitech.com,Head of Sales\nglobex.com,CFO\n"


def save(page: Page, directory: Path, name: str) -> None:
    wait_until_idle(page)
    # Streamlit scrolls inside its main container, so a full-page screenshot
    # stops at the viewport. A viewport as tall as the content shows all of it.
    height = page.get_by_test_id("stMain").evaluate("element => element.scrollHeight")
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(int(height), VIEWPORT["height"])})
    wait_until_idle(page)
    # A fragment that refreshes itself shows grey placeholders while it reruns;
    # wait until every element has its content again.
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=WAIT_MS)
    page.wait_for_timeout(500)
    path = directory / f"{name}.png"
    page.screenshot(path=str(path))
    page.set_viewport_size(VIEWPORT)
    print(f"saved {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def take_all(page: Page, console: ConsoleProcess, directory: Path, workdir: Path) -> None:
    open_page(page, console.url, "Health")
    save(page, directory, "health")
    open_page(page, console.url, "Alerts")
    save(page, directory, "alerts")
    open_page(page, console.url, "Spend")
    save(page, directory, "spend")

    page.goto(f"{console.url}/runbooks?vendor=apollo")
    expect(page.get_by_role("heading", name="Apollo", exact=True)).to_be_visible()
    save(page, directory, "runbooks")

    open_page(page, console.url, "Enrich")
    page.get_by_role("textbox", name="Company domain", exact=True).fill("acme.com")
    page.get_by_role("button", name="Find contacts").click()
    expect(page.get_by_test_id("stAlertContentSuccess")).to_be_visible()
    save(page, directory, "enrich")

    open_page(page, console.url, "Test calls")
    page.get_by_role("button", name="Run test call").click()
    expect(page.get_by_role("heading", name="Response")).to_be_visible()
    save(page, directory, "test-calls")

    upload = workdir / "applications.csv"
    upload.write_text(BACKFILL_CSV)
    open_page(page, console.url, "Backfill")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(upload)
    expect(page.get_by_role("heading", name="Dry run")).to_be_visible()
    page.get_by_text("I understand this backfill spends vendor credits").click()
    page.get_by_role("button", name="Start backfill").click()
    expect(page.get_by_test_id("stProgress")).to_contain_text("3 of 3 rows ended")
    save(page, directory, "backfill")

    open_page(page, console.url, "Audit log")
    save(page, directory, "audit")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots",
                        help="directory for the PNG files (default docs/screenshots)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="roleferry-screenshots-"))
    sandbox = SandboxProcess(workdir)
    console = ConsoleProcess(workdir, sandbox.url)
    try:
        sandbox.start()
        seeded = console.cli("sandbox", "seed-history", "--days", "45", timeout=120)
        if seeded.returncode != 0:
            print(f"error: seed-history failed: {seeded.stderr}", file=sys.stderr)
            return 1
        console.start()
        expect.set_options(timeout=WAIT_MS)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(**chromium_launch_options())
            page = browser.new_page(viewport=VIEWPORT)
            page.set_default_timeout(WAIT_MS)
            take_all(page, console, args.out, workdir)
            browser.close()
    except LaunchFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        console.stop()
        sandbox.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
