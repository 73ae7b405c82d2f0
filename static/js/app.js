// The shopper app: routes, the header (store, live cart count), offline and update banners.

import { announceMovedCarts } from "./cart-moved.js";
import * as cartState from "./cart-state.js";
import { h } from "./dom.js";
import { SHOPPER_CART } from "./fragments.js";
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

route("/", () => {
  navigate(session.store() ? "/scan" : "/stores?next=/scan", { replace: true });
  return h("p.loading", "Loading…");
});
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
  chip.textContent = store ? store.name : "Choose store";
  chip.setAttribute("aria-label", store ? `Store: ${store.name}. Change store` : "Choose store");
}

function updateCartCount(cart) {
  const count = cart?.totalQuantity ?? 0;
  document.getElementById("cart-count").textContent = String(count);
  document.getElementById("cart-link").setAttribute("aria-label", `Cart, ${count} item${count === 1 ? "" : "s"}`);
}

function updateTabs() {
  const { path } = current();
  for (const tab of document.querySelectorAll(".tabbar a")) {
    const active = path.startsWith("/" + tab.dataset.tab) || (tab.dataset.tab === "scan" && path.startsWith("/product"));
    if (active) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
}

document.getElementById("store-chip").addEventListener("click", () => navigate(`/stores?next=${encodeURIComponent(current().path)}`));
session.onChange(updateHeader);
cartState.onCart(updateCartCount);
document.addEventListener("routechange", updateTabs);
updateHeader();
setUpPwa(document.getElementById("banners"));
announceMovedCarts(document.getElementById("banners"));
start(document.getElementById("view"));
// Pick up the remembered cart (live from here on); offline it comes from the saved copy.
cartState.load().catch(() => {});
