"""Opening console pages in the browser, watched for errors, and signing in."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Error, Page, expect

DEFAULT_TIMEOUT_MS = 10_000


class PageWatch:
    """The console errors, uncaught exceptions and CSP violations of the pages it watches."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self._contexts: list[BrowserContext] = []

    def watch(self, context: BrowserContext, page: Page) -> None:
        self._contexts.append(context)
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)

    def close(self) -> None:
        for context in self._contexts:
            context.close()
        self._contexts.clear()

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        # Chromium logs every non-2xx answer to fetch() as "Failed to load resource"; the API
        # refusing a call (a bad key, a 400) is a state the pages show, not a page error. A
        # console file that fails to load still counts.
        url = message.location.get("url", "")
        if message.text.startswith("Failed to load resource") and _is_api(url):
            return
        self.problems.append(f"console error: {message.text} ({url})")

    def _on_page_error(self, error: Error) -> None:
        self.problems.append(f"uncaught: {error.message}")


def _is_api(url: str) -> bool:
    path = urlsplit(url).path
    return path.startswith(("/v1/", "/api/"))


def open_console(
    browser: Browser, watch: PageWatch, url: str, width: int, height: int, route: str = ""
) -> Page:
    """A new watched page (its own context: its own session storage) at the console, at
    `route` (`/logs?model=x`; the default route when empty) once signed in."""
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    watch.watch(context, page)
    page.goto(f"{url}/#{route}" if route else f"{url}/")
    expect(page.get_by_label("API key")).to_be_visible()
    return page


def sign_in(page: Page, key: str) -> None:
    """Pastes `key` into the prompt and waits for the console's navigation."""
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("navigation", name="Console")).to_be_visible()


def go(page: Page, route: str) -> None:
    """Goes to a console route (`/logs/<id>`), as a click on a link to it would."""
    page.evaluate("route => { location.hash = route }", route)
