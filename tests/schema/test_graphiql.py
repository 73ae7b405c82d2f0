"""GraphiQL at ``GET /graphql``: only in development and demo mode, every asset served here."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from server.db import Database
from tests.clients import client_for

HTML = {"Accept": "text/html"}
_ASSET = re.compile(r'(?:src|href)="(/vendor/[^"]+)"\s+integrity="(sha384-[^"]+)"')


async def test_debug_mode_serves_the_local_graphiql_page(
    sqlite_db: Database, tmp_path: Path
) -> None:
    async with client_for(sqlite_db, tmp_path, debug=True) as client:
        response = await client.get("/graphql", headers=HTML)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>omnicart GraphiQL</title>" in response.text
    assert re.findall(r'(?:src|href)="(https?:[^"]+)"', response.text) == []
    assert sorted(path for path, _ in _ASSET.findall(response.text)) == [
        "/vendor/graphiql-plugin-explorer@1.0.2/index.umd.js",
        "/vendor/graphiql-plugin-explorer@1.0.2/style.css",
        "/vendor/graphiql@3.8.3/graphiql.min.css",
        "/vendor/graphiql@3.8.3/graphiql.min.js",
        "/vendor/react-dom@18.2.0/react-dom.production.min.js",
        "/vendor/react@18.2.0/react.production.min.js",
    ]


async def test_every_graphiql_asset_is_served_with_its_integrity_hash(
    sqlite_db: Database, tmp_path: Path
) -> None:
    async with client_for(sqlite_db, tmp_path, demo=False, debug=True) as client:
        page = (await client.get("/graphql", headers=HTML)).text
        for path, integrity in _ASSET.findall(page):
            asset = await client.get(path)
            digest = base64.b64encode(hashlib.sha384(asset.content).digest()).decode()
            assert (path, asset.status_code, f"sha384-{digest}") == (path, 200, integrity)
            assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"


async def test_without_debug_or_demo_get_graphql_serves_no_ide(
    sqlite_db: Database, tmp_path: Path
) -> None:
    async with client_for(sqlite_db, tmp_path) as client:
        response = await client.get("/graphql", headers=HTML)

    assert response.status_code == 404
    assert "GraphiQL" not in response.text
