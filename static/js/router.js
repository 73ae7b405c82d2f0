// Hash routes (#/product/7038010009457): they work offline from one cached page and need
// no server routes. Each route renders a screen into the view and may return a cleanup.

import { h, notice, replace } from "./dom.js";
import { onLocale, t } from "./i18n.js";

const routes = [];
let view;
let cleanup = null;
let renderCount = 0;

/** Register `render(params, query)` for a pattern such as "/product/:gtin". */
export function route(pattern, render) {
  const names = [];
  const regex = new RegExp(
    "^" + pattern.replace(/:(\w+)/g, (_, name) => (names.push(name), "([^/]+)")) + "/?$",
  );
  routes.push({ regex, names, render });
}

/** The current hash path and query: {path: "/search", query: URLSearchParams}. */
export function current() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, search = ""] = raw.split("?");
  return { path, query: new URLSearchParams(search) };
}

/** Go to a hash path ("/cart"); `replace` keeps the back button from returning here. */
export function navigate(path, { replace: replaceEntry = false } = {}) {
  const target = "#" + path;
  if (location.hash === target) return render();
  if (replaceEntry) {
    history.replaceState(null, "", target);
    return render();
  }
  location.hash = target;
}

/** Render the current route into the view; called on start and on every hash change. */
export async function render() {
  const { path, query } = current();
  const ticket = ++renderCount;
  if (typeof cleanup === "function") cleanup();
  cleanup = null;
  for (const { regex, names, render: screen } of routes) {
    const match = regex.exec(path);
    if (!match) continue;
    const params = Object.fromEntries(names.map((name, i) => [name, decodeURIComponent(match[i + 1])]));
    view.setAttribute("aria-busy", "true");
    try {
      const result = await screen(params, query);
      if (ticket !== renderCount) {
        if (typeof result?.cleanup === "function") result.cleanup();
        return; // a newer navigation won
      }
      replace(view, result?.node ?? result);
      cleanup = result?.cleanup ?? null;
    } catch (error) {
      if (ticket !== renderCount) return;
      console.error(error);
      replace(view, h("h1", { tabindex: "-1", "data-focus": "" }, t("router.failed")), notice("error", error.message));
    } finally {
      view.removeAttribute("aria-busy");
    }
    document.dispatchEvent(new CustomEvent("routechange", { detail: { path } }));
    // Move focus to the new screen's heading so keyboard and screen reader users follow.
    const focusTarget = view.querySelector("[data-focus]") || view;
    focusTarget.focus({ preventScroll: true });
    window.scrollTo(0, 0);
    return;
  }
  replace(view, h("h1", { tabindex: "-1", "data-focus": "" }, t("router.notFound")), h("p", h("a", { href: "#/" }, t("router.backToStart"))));
}

/** Start routing into `element`. */
export function start(element) {
  view = element;
  addEventListener("hashchange", render);
  // A new language shows the current screen again in it, without a reload.
  onLocale(() => render());
  return render();
}
