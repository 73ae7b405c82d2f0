// The shopper app: routes, the header (store, live cart count), offline and update banners.

import { announceMovedCarts } from "./cart-moved.js";
import * as cartState from "./cart-state.js";
import { SHOPPER_CART } from "./fragments.js";
import { onLocale, t } from "./i18n.js";
import { setUpPwa } from "./pwa.js";
import { current, navigate, route, start } from "./router.js";
import * as session from "./session.js";

session.useApp("shopper");

/** A route's screen, loaded when first visited (the first load carries only the shell). */
function screen(load, name) {
  return async (params, query) => (await load())[name](params, query);
}
// The cart's lines carry their stock at the chosen store.
cartState.configure({ cartFields: SHOPPER_CART, definitions: ", $storeId: ID", variables: () => ({ storeId: session.store()?.id ?? null }), followClosed: true });

// The shop front is the start page; a device without a store chooses one first.
route("/", screen(() => import("./screens/front.js"), "render"));
route("/stores", screen(() => import("./screens/stores.js"), "render"));
route("/scan", screen(() => import("./screens/scan.js"), "render"));
route("/product/:gtin", screen(() => import("./screens/product.js"), "render"));
route("/search", screen(() => import("./screens/search.js"), "render"));
route("/cart", screen(() => import("./screens/cart.js"), "render"));
route("/handoff", screen(() => import("./screens/handoff.js"), "render"));
route("/account", screen(() => import("./screens/account.js"), "render"));
route("/checkout", screen(() => import("./screens/checkout.js"), "render"));
route("/orders", screen(() => import("./screens/order.js"), "renderList"));
route("/orders/:id", screen(() => import("./screens/order.js"), "render"));

function updateHeader() {
  const store = session.store();
  const chip = document.getElementById("store-chip");
  chip.textContent = store ? store.name : t("nav.chooseStore");
  chip.setAttribute("aria-label", store ? t("nav.storeLabel", { name: store.name }) : t("nav.chooseStore"));
}

function updateCartCount(cart) {
  const count = cart?.totalQuantity ?? 0;
  document.getElementById("cart-count").textContent = String(count);
  document.getElementById("cart-link").setAttribute("aria-label", t("nav.cart", { count }));
}

/** The page's own words (header, tab bar, skip link) in the shopper's language. */
function translateShell() {
  const text = (selector, value) => document.querySelector(selector)?.replaceChildren(value);
  const label = (selector, value) => document.querySelector(selector)?.setAttribute("aria-label", value);
  text(".skip-link", t("nav.skip"));
  label(".brand", t("nav.home"));
  label(".tabbar", t("nav.main"));
  text('.tabbar [data-tab="shop"] span', t("nav.shop"));
  text('.tabbar [data-tab="scan"] span', t("nav.scan"));
  text('.tabbar [data-tab="search"] span', t("nav.search"));
  text('.tabbar [data-tab="account"] span', t("nav.account"));
  text("#view > .loading", t("nav.loading"));
  translateCredit(document.querySelector("footer.data-credit"));
}

/** The data credit, its two links kept: "{off}" and "{licence}" stand for them in the message. */
function translateCredit(footer) {
  if (!footer) return;
  const [off, licence] = footer.querySelectorAll("a");
  licence.textContent = t("nav.creditLicence");
  const parts = t("nav.credit").split(/(\{off\}|\{licence\})/);
  footer.replaceChildren(...parts.map((part) => (part === "{off}" ? off : part === "{licence}" ? licence : part)));
}

function updateTabs() {
  const { path } = current();
  for (const tab of document.querySelectorAll(".tabbar a")) {
    const active =
      tab.dataset.tab === "shop" ? path === "/" : path.startsWith("/" + tab.dataset.tab) || (tab.dataset.tab === "scan" && path.startsWith("/product"));
    if (active) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
}

document.getElementById("store-chip").addEventListener("click", () => navigate(`/stores?next=${encodeURIComponent(current().path)}`));
session.onChange(updateHeader);
cartState.onCart(updateCartCount);
document.addEventListener("routechange", updateTabs);
translateShell();
updateHeader();
updateCartCount(null);
// The language switch re-renders the screen (router); the shell follows here.
onLocale(() => {
  translateShell();
  updateHeader();
  updateCartCount(cartState.currentCart());
});
setUpPwa(document.getElementById("banners"));
announceMovedCarts(document.getElementById("banners"));
start(document.getElementById("view"));
// Pick up the remembered cart (live from here on); offline it comes from the saved copy.
cartState.load().catch(() => {});
