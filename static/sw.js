// omnicart service worker: the app shell offline, the last answers of read operations
// (stores, products, the cart, orders) offline, and a clear update path.
//
// The server replaces the version below with a hash of every other static file, so each
// deploy that changes the shell installs a new worker; it waits until the page's
// "Reload" button sends SKIP_WAITING, then the page reloads onto the new shell.
const VERSION = "__OMNICART_SHELL_VERSION__";
const SHELL_CACHE = `omnicart-shell-${VERSION}`;
const RUNTIME_CACHE = "omnicart-runtime"; // immutable things fetched on use: vendor, barcodes
const DATA_CACHE = "omnicart-data"; // last answers of read operations, by name + variables
const MAX_PRODUCTS = 40;

// The pages and every module they load (tests/browser/test_pwa_manifest.py checks that
// this list covers each app's module graph and that every file exists).
const SHELL = [
  "/",
  "/kiosk",
  "/staff",
  "/manifest.webmanifest",
  "/css/app.css",
  "/css/kiosk.css",
  "/css/staff.css",
  "/icons/favicon-32.png",
  "/icons/icon-192.png",
  "/icons/icon-512.png",
  "/icons/maskable-192.png",
  "/icons/maskable-512.png",
  "/icons/apple-touch-icon.png",
  "/js/api.js",
  "/js/app.js",
  "/js/cart-moved.js",
  "/js/cart-state.js",
  "/js/code128.js",
  "/js/credit.js",
  "/js/dom.js",
  "/js/gtin.js",
  "/js/live.js",
  "/js/product-live.js",
  "/js/product-view.js",
  "/js/pwa.js",
  "/js/push.js",
  "/js/router.js",
  "/js/scanner.js",
  "/js/session.js",
  "/js/fragments.js",
  "/js/i18n.js",
  "/js/messages/en.js",
  "/js/messages/nb.js",
  "/js/messages/kiosk.en.js",
  "/js/messages/kiosk.nb.js",
  "/js/messages/staff.en.js",
  "/js/messages/staff.nb.js",
  "/js/screens/account.js",
  "/js/screens/club.js",
  "/js/screens/cart.js",
  "/js/screens/checkout.js",
  "/js/screens/front.js",
  "/js/screens/handoff.js",
  "/js/screens/order.js",
  "/js/screens/product.js",
  "/js/screens/scan.js",
  "/js/screens/search.js",
  "/js/screens/stores.js",
  "/js/kiosk/app.js",
  "/js/staff/app.js",
  "/js/staff/charts.js",
  "/vendor/graphql-ws.js",
];

// Read operations whose last answer is kept for offline use (by operationName).
const SAVED_OPERATIONS = new Set([
  "Stores",
  "Product",
  "ProductAlternatives",
  "Cart",
  "Me",
  "Order",
  "MyOrders",
  "FrontOffers",
  "FrontCategories",
]);

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(SHELL_CACHE);
      // Bypass the HTTP cache so the shell is exactly this version's files.
      await cache.addAll(SHELL.map((url) => new Request(url, { cache: "reload" })));
      const vendorEntry = await cache.match("/vendor/graphql-ws.js");
      // The vendor entry modules import versioned files; keep those with the shell too.
      if (vendorEntry) {
        const text = await vendorEntry.clone().text();
        const imports = [...new Set([...text.matchAll(/from "\.\/([^"]+)"/g)].map((m) => "/vendor/" + m[1]))];
        await cache.addAll(imports);
        for (const url of imports) {
          const module = await (await cache.match(url)).text();
          const chunks = new Set([...module.matchAll(/from '\.\/([^']+)'/g)].map((m) => new URL(m[1], location.origin + url).pathname));
          await cache.addAll([...chunks]);
        }
      }
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("omnicart-shell-") && name !== SHELL_CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("message", (event) => {
  if (event.data?.type === "SKIP_WAITING") self.skipWaiting();
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== location.origin) return; // product images etc.: the browser's business
  if (url.pathname === "/graphql") {
    if (request.method === "POST") event.respondWith(graphql(request));
    return;
  }
  if (request.method !== "GET") return;
  if (request.mode === "navigate") {
    event.respondWith(page(request, url));
    return;
  }
  if (url.pathname.startsWith("/barcodes/") || /^\/vendor\/[^/]+@[^/]+\//.test(url.pathname)) {
    event.respondWith(cacheFirst(request, RUNTIME_CACHE));
    return;
  }
  event.respondWith(shellFirst(request));
});

function shellPath(url) {
  if (url.pathname === "/" || url.pathname === "/index.html") return "/";
  if (url.pathname === "/kiosk" || url.pathname === "/kiosk/") return "/kiosk";
  if (url.pathname === "/staff" || url.pathname === "/staff/") return "/staff";
  return null;
}

async function page(request, url) {
  const path = shellPath(url);
  if (path) {
    const cached = await caches.match(path, { cacheName: SHELL_CACHE });
    if (cached) return cached;
  }
  return fetch(request);
}

async function shellFirst(request) {
  const cached = await caches.match(request, { cacheName: SHELL_CACHE });
  if (cached) return cached;
  try {
    return await fetch(request);
  } catch (error) {
    const fallback = await caches.match(request);
    if (fallback) return fallback;
    throw error;
  }
}

async function cacheFirst(request, cacheName) {
  const cache = await caches.open(cacheName);
  const cached = await cache.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

// The cache key of a read operation's answer: its name and variables, as a GET URL.
async function dataKey(request) {
  try {
    const body = await request.clone().json();
    if (!SAVED_OPERATIONS.has(body.operationName)) return null;
    if (/^\s*mutation/.test(body.query || "")) return null;
    const variables = JSON.stringify(sortKeys(body.variables || {}));
    return `/__saved/${body.operationName}?v=${encodeURIComponent(variables)}`;
  } catch {
    return null;
  }
}

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys(value[k])]));
  }
  return value;
}

async function graphql(request) {
  const key = await dataKey(request);
  try {
    const response = await fetch(request);
    if (key && response.ok) {
      const body = await response.clone().json();
      if (!body.errors) {
        const cache = await caches.open(DATA_CACHE);
        await cache.put(key, new Response(JSON.stringify(body), { headers: { "Content-Type": "application/json" } }));
        if (key.startsWith("/__saved/Product?")) await trimProducts(cache);
      }
    }
    return response;
  } catch (error) {
    if (key) {
      const saved = await caches.match(key, { cacheName: DATA_CACHE });
      if (saved) {
        const headers = new Headers(saved.headers);
        headers.set("X-Omnicart-Offline", "1");
        return new Response(saved.body, { status: 200, headers });
      }
    }
    return new Response(
      JSON.stringify({ data: null, errors: [{ message: "You are offline, and this is not saved on the device.", extensions: { code: "OFFLINE" } }] }),
      { status: 503, headers: { "Content-Type": "application/json", "X-Omnicart-Offline": "1" } },
    );
  }
}

async function trimProducts(cache) {
  const keys = (await cache.keys()).filter((r) => new URL(r.url).pathname === "/__saved/Product");
  // Cache keys come back in insertion order; re-putting moves an entry to the end.
  for (const old of keys.slice(0, Math.max(0, keys.length - MAX_PRODUCTS))) await cache.delete(old);
}

// Web Push: show what the server pushed ({title, body, url, tag}); a repeat of the same
// notification (same tag) replaces the one shown instead of adding another.
self.addEventListener("push", (event) => {
  const message = event.data ? event.data.json() : {};
  event.waitUntil(
    self.registration.showNotification(message.title || "omnicart", {
      body: message.body || "",
      tag: message.tag,
      icon: "/icons/icon-192.png",
      data: { url: message.url || "/" },
    }),
  );
});

// Opening a notification opens its page (the order), in a window of the app if one is open.
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL(event.notification.data?.url || "/", self.location.origin).href;
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      const open = windows.find((w) => new URL(w.url).origin === self.location.origin);
      if (open) {
        await open.navigate(url);
        return open.focus();
      }
      return self.clients.openWindow(url);
    })(),
  );
});
