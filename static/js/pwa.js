// Installability and offline: registers the service worker, shows "offline" and
// "new version" banners, and offers the install prompt where the browser allows it.

import { onResponse } from "./api.js";
import { h } from "./dom.js";
import { onLocale, t } from "./i18n.js";

let banners;
let offlineBanner = null;
let servedFromCache = false;

function showOffline() {
  const offline = !navigator.onLine || servedFromCache;
  if (offline && !offlineBanner) {
    offlineBanner = h(
      "div.banner.banner-offline",
      { role: "status", "data-testid": "offline-banner" },
      h("strong", t("pwa.offline")),
      " ",
      t("pwa.offlineHint"),
    );
    banners.prepend(offlineBanner);
  } else if (!offline && offlineBanner) {
    offlineBanner.remove();
    offlineBanner = null;
  }
  document.documentElement.classList.toggle("is-offline", offline);
  document.documentElement.classList.toggle("served-from-cache", servedFromCache);
}

function showUpdate(worker) {
  if (banners.querySelector(".banner-update")) return;
  const button = h("button.button.button-small", { type: "button", "data-testid": "update-reload" }, t("pwa.reload"));
  button.addEventListener("click", () => {
    button.disabled = true;
    worker.postMessage({ type: "SKIP_WAITING" });
  });
  banners.append(h("div.banner.banner-update", { role: "status" }, t("pwa.update"), " ", button));
}

/** Wire up the service worker and the banners inside `container`. */
export function setUpPwa(container) {
  banners = container;
  addEventListener("online", () => { servedFromCache = false; showOffline(); });
  addEventListener("offline", showOffline);
  onResponse(({ fromCache }) => {
    servedFromCache = fromCache;
    showOffline();
  });
  showOffline();
  // A new language: say it again in that language.
  onLocale(() => {
    offlineBanner?.remove();
    offlineBanner = null;
    showOffline();
  });

  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/sw.js", { scope: "/", updateViaCache: "none" }).then((registration) => {
    // A worker already waiting from an earlier visit: offer it now.
    if (registration.waiting && navigator.serviceWorker.controller) showUpdate(registration.waiting);
    registration.addEventListener("updatefound", () => {
      const worker = registration.installing;
      worker?.addEventListener("statechange", () => {
        if (worker.state === "installed" && navigator.serviceWorker.controller) showUpdate(worker);
      });
    });
    // Long-lived kiosk and staff screens look for a new version every half hour.
    setInterval(() => registration.update().catch(() => {}), 30 * 60 * 1000);
  }).catch((error) => console.warn("service worker not registered:", error));

  let reloading = false;
  const hadController = Boolean(navigator.serviceWorker.controller);
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    // The first install takes control silently; a replaced worker means a new version.
    if (!hadController || reloading) return;
    reloading = true;
    location.reload();
  });

  addEventListener("beforeinstallprompt", (event) => {
    event.preventDefault();
    const button = h("button.button.button-small", { type: "button" }, t("pwa.install"));
    const banner = h("div.banner.banner-install", { role: "status" }, t("pwa.installHint"), " ", button);
    button.addEventListener("click", async () => {
      banner.remove();
      event.prompt();
    });
    banners.append(banner);
  });
}

/** Forget every answer the service worker saved (after signing out on a shared device). */
export async function clearSavedData() {
  if ("caches" in window) await caches.delete("omnicart-data");
}
