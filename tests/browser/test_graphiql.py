"""GraphiQL in a real browser with every request off the loopback refused (no internet).

The server runs in development mode (``OMNICART_DEBUG=true``) over a fresh SQLite file, so
``GET /graphql`` answers the IDE; the page must render and run a query from the files this
server vendors (``schema/graphiql.html``, ``static/vendor/``), never from a CDN.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import TABLET, WAIT_MS, screenshot

pytestmark = pytest.mark.browser

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture(scope="module")
def debug_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real server in development mode (GraphiQL on) over an empty, migrated database."""
    from tests.live import serve_in_process

    data_dir = tmp_path_factory.mktemp("graphiql")
    env = {"OMNICART_DATA_DIR": str(data_dir), "OMNICART_DEBUG": "true",
           "OMNICART_LOG_LEVEL": "WARNING"}  # fmt: skip
    with serve_in_process(env) as base_url:
        yield base_url


def test_graphiql_renders_and_runs_a_query_offline(browser: Any, debug_server: str) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(base_url=debug_server, viewport=TABLET)
    context.set_default_timeout(WAIT_MS)
    refused: list[str] = []
    errors: list[str] = []

    def only_loopback(route: Any) -> None:
        if urlsplit(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", only_loopback)
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto("/graphql")
        editor = page.locator(".graphiql-query-editor .CodeMirror")
        expect(editor).to_be_visible()
        expect(editor).to_contain_text("query Stores")
        page.locator(".graphiql-execute-button").click()
        # The example document holds two operations: GraphiQL asks which one to run.
        page.get_by_role("menuitem", name="Stores").click()
        expect(page.locator(".graphiql-response")).to_contain_text('"stores": []')
        screenshot(page, "graphiql-offline")
    finally:
        context.close()

    assert (refused, errors) == ([], [])
