"""Serving the PWA: cache headers per kind of file, the service worker's version, the app pages.

Nothing is bundled or fingerprinted (no bundler yet), so a file's URL only changes with its
content under ``static/vendor/NAME@VERSION/``; those are cached for a year as immutable.
Every other file is served with ``no-cache``: the browser keeps it but revalidates with the
ETag (a 304 costs a few bytes), so a deploy is never half-seen through stale modules. The
service worker serves the app shell from its own versioned cache anyway, so installed
clients do not even revalidate.

``sw.js`` is served with ``VERSION`` replaced by a hash of every other static file, so
any deploy that changes the shell changes the worker's bytes; browsers then install the
new worker and the page offers to reload (the update path).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Awaitable, Callable
from functools import lru_cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

NO_CACHE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"
_VERSIONED = re.compile(r"(^|/)vendor/[^/]+@[^/]+/")
_VERSION_PLACEHOLDER = b"__OMNICART_SHELL_VERSION__"
# The pages the server answers at their own paths (and the SW caches as such).
APP_PAGES = {"/kiosk": "kiosk.html", "/staff": "staff.html"}


def cache_control_for(path: str) -> str:
    """Return the Cache-Control a static file gets, by its path relative to ``static/``."""
    return IMMUTABLE if _VERSIONED.search(path) else NO_CACHE


class PwaStaticFiles(StaticFiles):
    """StaticFiles with the PWA's cache headers: immutable for versioned vendor files."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        relative = os.path.relpath(full_path, self.directory or ".").replace(os.sep, "/")
        response.headers["Cache-Control"] = cache_control_for(relative)
        return response


@lru_cache(maxsize=4)
def shell_version(static_dir: Path, fingerprint: tuple[tuple[str, int, int], ...]) -> str:
    """Hash the static files (but sw.js itself) into a short version; keyed by their stats."""
    digest = hashlib.sha256()
    for name, _size, _mtime in fingerprint:
        digest.update(name.encode())
        digest.update((static_dir / name).read_bytes())
    return digest.hexdigest()[:16]


def _fingerprint(static_dir: Path) -> tuple[tuple[str, int, int], ...]:
    files = []
    for path in sorted(static_dir.rglob("*")):
        if path.is_file() and path.name != "sw.js":
            stat = path.stat()
            files.append((path.relative_to(static_dir).as_posix(), stat.st_size, stat.st_mtime_ns))
    return tuple(files)


Endpoint = Callable[[Request], Awaitable[Response]]


def service_worker_route(static_dir: Path) -> Endpoint:
    """Return the endpoint serving ``sw.js`` with the shell's content hash as its version."""

    async def service_worker(request: Request) -> Response:
        source = (static_dir / "sw.js").read_bytes()
        version = shell_version(static_dir, _fingerprint(static_dir))
        body = source.replace(_VERSION_PLACEHOLDER, version.encode())
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers = {"Cache-Control": NO_CACHE, "ETag": etag, "Service-Worker-Allowed": "/"}
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="text/javascript", headers=headers)

    return service_worker


def page_route(static_dir: Path, filename: str) -> Endpoint:
    """Return the endpoint serving one app page (kiosk, staff) at its own path, no-cache."""

    async def page(request: Request) -> Response:
        return FileResponse(static_dir / filename, headers={"Cache-Control": NO_CACHE})

    return page
