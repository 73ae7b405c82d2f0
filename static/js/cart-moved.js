// When the cart this device showed closes elsewhere (ordered on the phone, merged at sign-in,
// signed out), say so in a banner: with the order when there is a fresh one, else the new cart.

import { gql } from "./api.js";
import * as cartState from "./cart-state.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";
import * as session from "./session.js";

const LATEST_ORDER = `query LatestOrder { orders(first: 1) { edges { node { id number createdAt } } } }`;
// An order this recent is taken to be the one the closed cart became.
const RECENT_MS = 5 * 60 * 1000;

async function latestOrder() {
  if (!session.get("customer")) return null;
  try {
    const node = (await gql(LATEST_ORDER)).orders.edges[0]?.node;
    return node && Date.now() - new Date(node.createdAt).getTime() < RECENT_MS ? node : null;
  } catch {
    return null;
  }
}

/** Show a banner in `container` each time the followed cart closes on another device. */
export function announceMovedCarts(container) {
  cartState.onClosed(async () => {
    const order = await latestOrder();
    container.querySelector(".banner-cart-moved")?.remove();
    const banner = h(
      "div.banner.banner-cart-moved",
      { role: "status", "data-testid": "cart-moved" },
      order ? t("cartMoved.ordered", { number: order.number }) : t("cartMoved.closed"),
      " ",
      order ? h("a", { href: `#/orders/${encodeURIComponent(order.id)}` }, t("cartMoved.seeOrder")) : null,
      " ",
      h("button.button.button-small", { type: "button", onclick: () => banner.remove() }, t("cartMoved.dismiss")),
    );
    container.append(banner);
  });
}
