"""``POST /stock/movements``: the NDJSON feed of stock movements for tills and warehouses.

The device's bearer token authorises it as for ``stockMovementsRecord`` (403 UNAUTHORIZED
in the shared error shape otherwise). The body streams in and is applied 1,000 lines at a
time (``server.stock.feed``); the answer is the feed's report: counts, the rejected lines
with their reasons and the sales that fell short. Its size limit is
``OMNICART_STOCK_FEED_MAX_BYTES``, not the GraphQL body limit.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.accounts import resolve_viewer
from server.models import utcnow
from server.runtime import Runtime
from server.stock.feed import lines_of, run_feed
from server.stock.inputs import Recorder, TillClub

FEED_PATH = "/stock/movements"


def bearer_of(request: Request) -> str | None:
    """Return the bearer token of a plain HTTP request, or None."""
    scheme, _, value = request.headers.get("authorization", "").strip().partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def stock_routes() -> list[Route]:
    """Return the feed route."""

    async def record_feed(request: Request) -> Response:
        runtime: Runtime = request.app.state.runtime
        async with runtime.db.transaction(write=False) as session:
            viewer = await resolve_viewer(
                session, bearer=bearer_of(request), cart_token=None, now=utcnow()
            )
        recorder = Recorder.of_viewer(viewer, club=TillClub.of(runtime.settings))

        async def announce(ids: set[int]) -> None:
            # This process's next page read shows the batch; the others hear of it from the
            # publisher's background task (a lost notice never fails committed movements).
            runtime.pages.forget(ids)
            runtime.publisher.announce_products(ids)

        report = await run_feed(runtime.db, recorder, lines_of(request.stream()), announce)
        return JSONResponse(report.as_json())

    return [Route(FEED_PATH, record_feed, methods=["POST"])]
