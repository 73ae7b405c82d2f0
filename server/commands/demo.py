"""The demo's data and sign-in, as ``omnicart seed --demo`` and ``serve --demo`` prepare them."""

from __future__ import annotations

from rich.console import Console

from server.commands.console import console
from server.config import Settings
from server.db import Database
from server.demo_access import DemoAccess, ensure_demo_access
from server.seed import SeedReport, demo_is_seeded, seed_demo


async def prepare_demo(db: Database, settings: Settings) -> tuple[SeedReport, DemoAccess]:
    """Seed the demo data unless it is there (saying so only then); ensure its sign-in."""
    if not await demo_is_seeded(db):
        console.print("Preparing the demo data (first start only)…")
    report = await seed_demo(db, settings)
    return report, await ensure_demo_access(db, settings)


def print_demo_access(access: DemoAccess, base_url: str) -> None:
    """Print how to sign in to the demo on standard output (the kiosk links hold tokens)."""
    out = Console(soft_wrap=True, highlight=False)
    out.print("Demo sign-in (demo data only; anyone who reads this can sign in):", markup=False)
    for line in access.lines(base_url):
        out.print(f"  {line}", markup=False)
