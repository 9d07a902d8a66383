"""Browser tests of the web console: Playwright's SYNC API driving Debian's chromium.

Fixtures (helper modules: `seed.py` for the gateway and its traffic, `browsing.py` for pages):
- `console_gateway` (package): a real `llm-gateway serve` process with seeded traffic;
  `.url`, `.admin_key`, `.user_key` (non-admin, alice), `.other_user_key` (bob), `.seeded`.
- `browser` (package): headless Chromium from `shutil.which("chromium")`.
- `signed_in(width, key=None, route="")`: a page at the console at 1280 or 390 x 900, signed
  in with the admin key (or `key`), its nav shown, at `route` (e.g. "/logs?model=m"; the
  default route, #/metrics, when empty).
- `console_page(width, route="")`: the same, at the key prompt (not signed in).
- `shot(page, name)`: saves a full-page screenshot as `test-output/console/<name>.png`.
Every page these fixtures open is watched: a console error, an uncaught exception or a CSP
violation fails the test at teardown (an API answering 4xx is not one: pages show those).

The console is HTTP only, so these tests run in the in-process pass of `make test` and skip
in the grpc one (`GATEWAY_TEST_TRANSPORT=grpc`).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.console.browsing import PageWatch, open_console, sign_in
from tests.console.seed import (
    ADMIN_KEY,
    ALICE,
    BOB,
    CONFIG,
    ConsoleGateway,
    create_key,
    seed,
    wait_until_logged,
)
from tests.processes import gateway_env, gateway_process
from tests.transport import IN_PROCESS

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "console"
HEIGHT = 900


def _skip_unless_in_process() -> None:
    if not IN_PROCESS:
        pytest.skip("the web console is HTTP only: its browser tests run in the in-process pass")


# Package scope, not session: Playwright's sync API keeps an event loop running in this
# thread while it is open, and every asyncio test collected after this package would fail.
@pytest.fixture(scope="package")
def console_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleGateway]:
    """`llm-gateway serve` (mock provider, SQLite), seeded with traffic."""
    _skip_unless_in_process()
    tmp_path = tmp_path_factory.mktemp("console-gateway")
    env = gateway_env(
        tmp_path,
        CONFIG,
        ADMIN_KEY,
        GATEWAY_KEY_CACHE_TTL_SECONDS="0",  # a revoked key is refused at once
        GATEWAY_LOG_FLUSH_INTERVAL_SECONDS="0.05",
    )
    with gateway_process("serve", env, tmp_path / "serve.stderr") as served:
        with httpx.Client(
            base_url=served.http_url,
            headers={"authorization": f"Bearer {ADMIN_KEY}"},
            timeout=10,
        ) as http:
            user_key = create_key(http, ALICE)
            other_key = create_key(http, BOB)
            seeded = seed(http, user_key, other_key)
            wait_until_logged(http, seeded)
        yield ConsoleGateway(served.http_url, ADMIN_KEY, user_key, other_key, seeded)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Headless Debian chromium (installed by scripts/install-test-tools.sh)."""
    _skip_unless_in_process()
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed: run scripts/install-test-tools.sh")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page_watch() -> Iterator[PageWatch]:
    """Collects the problems of every page a test opens; fails the test on any."""
    watch = PageWatch()
    yield watch
    watch.close()
    assert watch.problems == [], "the page logged errors:\n" + "\n".join(watch.problems)


@pytest.fixture
def console_page(
    console_gateway: ConsoleGateway, browser: Browser, page_watch: PageWatch
) -> Callable[..., Page]:
    """`console_page(width, route="")`: a watched page at the console's key prompt."""

    def opened(width: int, route: str = "") -> Page:
        return open_console(browser, page_watch, console_gateway.url, width, HEIGHT, route)

    return opened


@pytest.fixture
def signed_in(
    console_gateway: ConsoleGateway, console_page: Callable[..., Page]
) -> Callable[..., Page]:
    """`signed_in(width, key=None, route="")`: a watched page at the console, signed in (admin
    key unless `key`), at `route` when given."""

    def opened(width: int, key: str | None = None, route: str = "") -> Page:
        page = console_page(width, route)
        sign_in(page, key or console_gateway.admin_key)
        return page

    return opened


@pytest.fixture
def shot() -> Callable[[Page, str], Path]:
    """`shot(page, name)`: a full-page screenshot at `test-output/console/<name>.png`."""

    def take(page: Page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
