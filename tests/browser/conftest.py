"""Browser test fixtures: a real uvicorn serving the demo shop; Debian's Chromium via Playwright.

The tests use Playwright's sync API from plain (sync) test functions, which pytest-asyncio
leaves alone; nothing here runs inside an event loop. One server and one browser serve a
whole module. The server is a subprocess (``uvicorn omnicart.app:app_from_env``) over a
SQLite file that is migrated and seeded (the demo catalog, plus a kiosk and a staff device
of the test store) before it starts.

Chromium is ``/usr/bin/chromium`` unless ``OMNICART_CHROMIUM`` names another; without it
the tests skip, except under ``CI=true``, where they fail (``tests.conftest.require_service``).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_service

CHROMIUM = os.environ.get("OMNICART_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--headless=new",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
STORE_CODE = "OSL-STORO"
OTHER_STORE_CODE = "BGO-LAGUNEN"
STAFF_EMAIL = "ola.ansatt@omnicart.test"
STAFF_PASSWORD = "counter-desk-2026"
PHONE = {"width": 390, "height": 844}
NARROW_PHONE = {"width": 360, "height": 740}
KIOSK = {"width": 1080, "height": 1920}
TABLET = {"width": 1024, "height": 768}
# Expect-style waits: generous for a loaded CI machine, far below the test timeout.
WAIT_MS = 10_000

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Shop:
    """The running shop the browsers talk to."""

    url: str
    kiosk_token: str
    staff_device_token: str
    pos_token: str
    store_code: str = STORE_CODE
    staff_email: str = STAFF_EMAIL
    staff_password: str = STAFF_PASSWORD


def chromium_available() -> None:
    """Skip (fail under CI=true) when Debian's Chromium is not installed."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        require_service("browser", "OMNICART_CHROMIUM (or install Debian's chromium)")


async def _seed_shop(data_dir: Path) -> tuple[str, str, str, str]:
    """Migrate and seed the demo shop, with a kiosk, a till and staff in the test store."""
    from server.config import Settings
    from server.db import Database
    from server.migrations import upgrade_to_head
    from tests.rows import add_device

    url = f"sqlite+aiosqlite:///{data_dir / 'omnicart.db'}"
    settings = Settings(data_dir=data_dir, database_url=url)  # type: ignore[arg-type]
    db = Database(url)
    try:
        await upgrade_to_head(db)
        from server.seed import seed_demo

        await seed_demo(db, settings)
        # A shop that has been running: the index, the product pages and their ranked
        # alternatives are built before the server starts, so no test races its indexer.
        from server.indexing import reindex_all
        from server.runtime import Runtime

        runtime = Runtime(settings=settings, db=db)
        try:
            await reindex_all(db, runtime.search, settings.currency)
        finally:
            await runtime.search.close()
        kiosk = await add_device(db, STORE_CODE, "kiosk")
        staff = await add_device(db, STORE_CODE, "staff")
        pos = await add_device(db, STORE_CODE, "pos")
        from server.models import utcnow
        from server.staff.accounts import add_staff

        async with db.transaction() as session:
            await add_staff(
                session,
                email=STAFF_EMAIL,
                name="Ola Ansatt",
                role="staff",
                store_code=STORE_CODE,
                password=STAFF_PASSWORD,
                now=utcnow(),
            )
    finally:
        await db.dispose()
    return url, kiosk, staff, pos


# One seeded shop per test process, copied for each module: seeding and indexing the demo
# catalog costs seconds of CPU, a copy of its files a few milliseconds.
_seeded: tuple[Path, tuple[str, str, str]] | None = None


async def _prepare_database(data_dir: Path) -> tuple[str, str, str, str]:
    """Give ``data_dir`` a freshly seeded demo shop of its own (a copy of this process's seed).

    Return its database URL and the kiosk, staff and till device tokens (the same in every
    copy, each copy a shop of its own).
    """
    global _seeded
    if _seeded is None:
        seed_dir = data_dir.parent / f"{data_dir.name}-seed"
        seed_dir.mkdir()
        _, *tokens = await _seed_shop(seed_dir)
        _seeded = (seed_dir, (tokens[0], tokens[1], tokens[2]))
    seed_dir, (kiosk, staff, pos) = _seeded
    shutil.copytree(seed_dir, data_dir, dirs_exist_ok=True)
    return f"sqlite+aiosqlite:///{data_dir / 'omnicart.db'}", kiosk, staff, pos


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """A real server on loopback over a freshly seeded SQLite database."""
    with running_shop(tmp_path_factory) as running:
        yield running


@contextmanager
def running_shop(tmp_path_factory: pytest.TempPathFactory, **extra_env: str) -> Iterator[Shop]:
    """Seed a fresh shop and serve it (``extra_env``: more ``OMNICART_*`` settings)."""
    chromium_available()
    from tests.live import serve_in_process

    data_dir = tmp_path_factory.mktemp("browser-shop")
    # Playwright's sync API may already hold this thread's event loop: seed on another.
    with ThreadPoolExecutor(max_workers=1) as pool:
        url, kiosk, staff, pos = pool.submit(
            lambda: asyncio.run(_prepare_database(data_dir))
        ).result()
    env = {
        "OMNICART_DATA_DIR": str(data_dir),
        "OMNICART_DATABASE_URL": url,
        "OMNICART_LOG_LEVEL": "WARNING",
        **extra_env,
    }
    with serve_in_process(env) as base_url:
        yield Shop(url=base_url, kiosk_token=kiosk, staff_device_token=staff, pos_token=pos)


@pytest.fixture(scope="module")
def playwright_instance() -> Iterator[Any]:
    """One Playwright driver for the module."""
    chromium_available()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def browser(playwright_instance: Any) -> Iterator[Any]:
    """Debian's Chromium, headless."""
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def new_context(browser: Any, shop: Shop) -> Iterator[Callable[..., Any]]:
    """Make browser contexts (one per device) that fail the test on uncaught page errors."""
    contexts: list[Any] = []
    errors: list[str] = []

    def make(viewport: dict[str, int] = PHONE, **options: Any) -> Any:
        options.setdefault("locale", "en-GB")
        context = browser.new_context(base_url=shop.url, viewport=viewport, **options)
        context.set_default_timeout(WAIT_MS)
        context.on("page", lambda page: page.on("pageerror", lambda e: errors.append(str(e))))
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


@contextmanager
def fake_camera_browser(playwright: Any, video: Path) -> Iterator[Any]:
    """Launch a second Chromium whose camera shows ``video`` (a Y4M file), looping."""
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ],
    )
    try:
        yield browser
    finally:
        browser.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot to artifacts/screenshots/NAME.png and return its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^a-z0-9_-]+', '-', name.lower())}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
