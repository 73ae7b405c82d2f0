"""What makes the PWA installable and fast, checked over plain HTTP through the ASGI app.

The manifest's fields and icons, the service worker and its cache headers, the shell list
against each page's module graph, the vendored modules and their licences, and the
shopper page's JavaScript budget (first load, without the lazily loaded scanner polyfill).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from io import BytesIO
from pathlib import Path
from posixpath import dirname, normpath

import httpx
import pytest
from PIL import Image

from server.db import Database
from server.pwa import IMMUTABLE, NO_CACHE, cache_control_for, shell_version
from server.pwa_documents import static_graphql_documents
from tests.clients import client_for

STATIC = Path(__file__).resolve().parents[2] / "static"
PAGES = {"/": "index.html", "/kiosk": "kiosk.html", "/staff": "staff.html"}
JS_BUDGET_BYTES = 150 * 1024
# Loaded only when scanning starts and the browser has no BarcodeDetector.
SCANNER_POLYFILL = re.compile(r"^/vendor/(barcode-detector|zxing-wasm)")
# The screens the start route can show, and the larger language catalog: with the shell's
# static imports, they are what a first visit loads (other screens load when visited).
FIRST_VISIT = (
    "/js/screens/stores.js",
    "/js/screens/scan.js",
    "/js/screens/front.js",
    "/js/messages/nb.js",
)
# Static imports and re-exports start a line; dynamic imports are import("…") anywhere.
_IMPORT = re.compile(
    r"""(?m)(?:^\s*(?:import|export)\b[^;'"]*?\bfrom\s*|^\s*import\s*|\bimport\(\s*)["']([^"']+)["']"""
)
_STATIC_IMPORT = re.compile(
    r"""(?m)(?:^\s*(?:import|export)\b[^;'"(]*?\bfrom\s*|^\s*import\s*)["']([^"']+)["']"""
)
_MODULE_SCRIPT = re.compile(r"""<script[^>]*type="module"[^>]*src="([^"]+)\"""")


@pytest.fixture
async def client(sqlite_db: Database, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(sqlite_db, tmp_path) as client:
        yield client


def module_graph(entry: str, pattern: re.Pattern[str] = _IMPORT) -> list[str]:
    """Every module a page's entry can load (static and dynamic imports), as URL paths.

    With ``_STATIC_IMPORT``, only what loads with the entry itself."""
    seen: list[str] = []
    pending = [entry]
    while pending:
        url = pending.pop()
        if url in seen:
            continue
        seen.append(url)
        source = (STATIC / url.lstrip("/")).read_text()
        for specifier in pattern.findall(source):
            if specifier.startswith("/"):
                pending.append(normpath(specifier))
            elif specifier.startswith("."):
                pending.append(normpath(dirname(url) + "/" + specifier))
            else:
                raise AssertionError(f"{url} imports the bare specifier {specifier!r}")
    return seen


def page_entry(page_file: str) -> str:
    """The module script of a page."""
    (entry,) = _MODULE_SCRIPT.findall((STATIC / page_file).read_text())
    return entry


def shell_list() -> list[str]:
    """The URLs sw.js precaches."""
    source = (STATIC / "sw.js").read_text()
    block = source.split("const SHELL = [", 1)[1].split("];", 1)[0]
    return re.findall(r'"([^"]+)"', block)


async def test_manifest_has_what_an_installable_app_needs(client: httpx.AsyncClient) -> None:
    response = await client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/manifest+json")
    assert response.headers["cache-control"] == NO_CACHE
    manifest = json.loads(response.text)
    assert manifest["name"] and manifest["short_name"] == "omnicart"
    assert manifest["display"] == "standalone"
    assert manifest["start_url"].startswith("/")
    assert manifest["scope"] == "/"
    assert re.fullmatch(r"#[0-9a-f]{6}", manifest["theme_color"])
    assert re.fullmatch(r"#[0-9a-f]{6}", manifest["background_color"])
    declared = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert declared >= {
        ("192x192", "any"),
        ("512x512", "any"),
        ("192x192", "maskable"),
        ("512x512", "maskable"),
    }


async def test_every_declared_icon_is_served_at_its_declared_size(
    client: httpx.AsyncClient,
) -> None:
    manifest = json.loads((STATIC / "manifest.webmanifest").read_text())
    for icon in manifest["icons"]:
        response = await client.get(icon["src"])
        assert response.status_code == 200, icon["src"]
        assert response.headers["content-type"] == icon["type"] == "image/png"
        image = Image.open(BytesIO(response.content))
        assert f"{image.width}x{image.height}" == icon["sizes"], icon["src"]
        if icon["purpose"] == "maskable":
            # Maskable icons are full-bleed: no transparent corners for a mask to reveal.
            rgba = image.convert("RGBA")
            assert rgba.getpixel((0, 0))[3] == 255


async def test_pages_link_the_manifest_and_theme(client: httpx.AsyncClient) -> None:
    for path, page_file in PAGES.items():
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["cache-control"] == NO_CACHE
        html = response.text
        assert '<link rel="manifest" href="/manifest.webmanifest">' in html, page_file
        assert '<meta name="theme-color" content="#0f5c4d">' in html, page_file
        assert 'name="viewport"' in html, page_file
        assert 'lang="en"' in html, page_file


async def test_service_worker_is_served_fresh_with_the_shell_version(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["cache-control"] == NO_CACHE
    assert response.headers["content-type"].startswith("text/javascript")
    assert "__OMNICART_SHELL_VERSION__" not in response.text
    version = re.search(r'const VERSION = "([0-9a-f]{16})";', response.text)
    assert version is not None
    etag = response.headers["etag"]
    again = await client.get("/sw.js", headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_shell_version_changes_with_any_static_file(tmp_path: Path) -> None:
    (tmp_path / "app.js").write_text("one")
    (tmp_path / "sw.js").write_text("worker")
    first = shell_version(tmp_path, (("app.js", 3, 1),))
    (tmp_path / "app.js").write_text("two")
    assert shell_version(tmp_path, (("app.js", 3, 2),)) != first


async def test_cache_headers_are_immutable_only_for_versioned_vendor_files(
    client: httpx.AsyncClient,
) -> None:
    wasm = next(STATIC.glob("vendor/zxing-wasm@*/zxing_reader.wasm")).relative_to(STATIC)
    response = await client.get(f"/{wasm.as_posix()}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/wasm"
    assert response.headers["cache-control"] == IMMUTABLE
    for path in ("/js/app.js", "/css/app.css", "/vendor/graphql-ws.js", "/icons/icon-192.png"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == NO_CACHE, path
        assert "etag" in response.headers
    assert cache_control_for("vendor/graphql-ws@6.4.2/client.js") == IMMUTABLE
    assert cache_control_for("vendor/graphql-ws.js") == NO_CACHE


async def test_shell_covers_every_page_module_and_every_entry_exists(
    client: httpx.AsyncClient,
) -> None:
    shell = shell_list()
    for page_file in PAGES.values():
        for module in module_graph(page_entry(page_file)):
            if SCANNER_POLYFILL.match(module) or re.match(r"^/vendor/[^/]+@", module):
                continue  # runtime-cached on first use (versioned, immutable)
            assert module in shell, f"{module} (loaded by {page_file}) is not precached"
    for url in shell:
        response = await client.get(url)
        assert response.status_code == 200, url


def test_shopper_first_load_javascript_is_within_budget() -> None:
    present = [m for m in FIRST_VISIT if (STATIC / m.lstrip("/")).exists()]
    first_visit = [page_entry("index.html"), *present]
    modules = sorted({m for entry in first_visit for m in module_graph(entry, _STATIC_IMPORT)})
    assert not any(SCANNER_POLYFILL.match(m) for m in modules)
    assert "/js/screens/checkout.js" not in modules, "screens load when visited"
    total = sum((STATIC / m.lstrip("/")).stat().st_size for m in modules)
    print(f"shopper first-load JavaScript: {total} bytes in {len(modules)} modules")
    assert total < JS_BUDGET_BYTES, f"{total} bytes of JavaScript on first load"
    # The scanner polyfill is reachable, but only through a dynamic import.
    assert any(SCANNER_POLYFILL.match(m) for m in module_graph(page_entry("index.html")))
    scanner = (STATIC / "js/scanner.js").read_text()
    assert 'await import("/vendor/barcode-detector.js")' in scanner


def test_vendored_modules_record_version_and_licence() -> None:
    readme = (STATIC / "vendor" / "README.md").read_text()
    folders = sorted(p for p in (STATIC / "vendor").iterdir() if p.is_dir())
    assert {f.name.split("@")[0] for f in folders} == {
        "graphql-ws",
        "barcode-detector",
        "zxing-wasm",
        "react",
        "react-dom",
        "graphiql",
        "graphiql-plugin-explorer",
        "axe-core",
    }
    npm_names = {"graphiql-plugin-explorer": "@graphiql/plugin-explorer"}
    licences = {"axe-core": "MPL-2.0"}
    for folder in folders:
        name, version = folder.name.split("@")
        licence = licences.get(name, "MIT")
        name = npm_names.get(name, name)
        row = f"[{name}](https://www.npmjs.com/package/{name}) | {version} | {licence}"
        assert row in readme, folder.name
        assert any(folder.glob("LICENSE*")), f"{folder.name} has no licence file"


def test_the_accessibility_checker_is_never_loaded_by_a_page() -> None:
    # axe-core is injected by the browser tests only: no page's module graph, no precache.
    shell = shell_list()
    assert not [url for url in shell if "axe" in url]
    for page_file in PAGES.values():
        assert "axe" not in (STATIC / page_file).read_text()
        assert not [m for m in module_graph(page_entry(page_file)) if "axe" in m]


def test_scanner_polyfill_loads_its_webassembly_from_this_server() -> None:
    entry = (STATIC / "vendor" / "barcode-detector.js").read_text()
    wasm = re.search(r'new URL\("\./(zxing-wasm@[^"]+\.wasm)", import\.meta\.url\)', entry)
    assert wasm is not None and (STATIC / "vendor" / wasm.group(1)).is_file()
    assert "setZXingModuleOverrides" in entry and "locateFile" in entry
    for module in module_graph("/vendor/barcode-detector.js"):
        assert not re.search(r"https?://", _code_imports(module)), module


def _code_imports(module: str) -> str:
    """The import specifiers of a module, joined (URLs there would mean a CDN fetch)."""
    return " ".join(_IMPORT.findall((STATIC / module.lstrip("/")).read_text()))


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    """The WCAG contrast ratio of two #rrggbb colours."""
    lighter, darker = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_text_colours_meet_wcag_aa_contrast() -> None:
    css = (STATIC / "css" / "app.css").read_text()
    colours = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6});", css))
    white = "#ffffff"
    pairs = [
        ("ink", "paper"),
        ("muted", "paper"),
        ("muted", "card"),
        ("green", "paper"),  # links
        ("red", "card"),  # campaign prices
        ("amber", "amber-tint"),  # low-stock pills
    ]
    for foreground, background in pairs:
        ratio = contrast(colours[foreground], colours[background])
        assert ratio >= 4.5, f"--{foreground} on --{background}: {ratio:.2f}"
    assert contrast(white, colours["green"]) >= 4.5  # buttons, header
    assert contrast(white, colours["red"]) >= 4.5  # campaign badge


def test_every_graphql_document_of_the_pwa_is_valid_against_the_schema() -> None:
    from graphql import build_schema, parse, validate

    root = Path(__file__).resolve().parents[2]
    schema = build_schema((root / "schema" / "schema.graphql").read_text())
    documents = static_graphql_documents()
    checked = 0
    for where, text in documents.items():
        if "${" in text:
            continue  # built at run time (cart-state, staff actions): covered in the browser
        errors = validate(schema, parse(text))
        assert not errors, f"{where}: {[e.message for e in errors]}"
        checked += 1
    assert checked >= 15, f"only {checked} documents found"


@pytest.mark.parametrize("path", ["/", "/kiosk", "/staff"])
async def test_every_screen_credits_the_product_data(client: httpx.AsyncClient, path: str) -> None:
    # The demo catalog is Open Food Facts data under the ODbL, which asks for this credit
    # wherever the data is shown.
    page = (await client.get(path)).text
    assert "Open Food Facts" in page
    assert "https://world.openfoodfacts.org/terms-of-use" in page
    assert "Open Database License (ODbL)" in page
