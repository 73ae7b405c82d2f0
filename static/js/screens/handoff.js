// "Continue at the kiosk": a single-use code, shown large as text, Code 128 and QR, that
// an order station in the store scans or types to pick this cart up. The screen follows
// the code live: once a kiosk claims it the countdown stops and says where the cart is
// open, and what the kiosk orders shows here as ordered, with its order number.

import { gql, payload } from "../api.js";
import * as cartState from "../cart-state.js";
import { busy, h, heading, notice, replace } from "../dom.js";
import { money, t } from "../i18n.js";
import { subscribe } from "../live.js";

const CREATE = `mutation CartHandoffCreate($input: CartHandoffCreateInput!) {
  cartHandoffCreate(input: $input) { code expiresAt barcodeUrl qrUrl errors { code field message } }
}`;
const FOLLOW = `subscription CartHandoffUpdated($cartId: ID!) {
  cartHandoffUpdated(cartId: $cartId) { expiresAt claimedAt claimedAtStore { id name } }
}`;

function countdown(expiresAt, element, onExpire) {
  const tick = () => {
    const seconds = Math.max(0, Math.round((new Date(expiresAt).getTime() - Date.now()) / 1000));
    if (seconds === 0) {
      element.textContent = t("handoff.expired");
      onExpire();
      return false;
    }
    element.textContent = t("handoff.validFor", { minutes: Math.floor(seconds / 60), seconds: String(seconds % 60).padStart(2, "0") });
    return true;
  };
  tick();
  const timer = setInterval(() => tick() || clearInterval(timer), 1000);
  return () => clearInterval(timer);
}

/** The lines a kiosk ordered from a cart that stays open, by order (the cart screen shows them too). */
export function orderedLinesView(cart) {
  const lines = cart?.orderedLines ?? [];
  if (!lines.length) return null;
  const orders = new Map();
  for (const line of lines) {
    if (!orders.has(line.orderId)) orders.set(line.orderId, { number: line.orderNumber, fulfilment: line.fulfilment, lines: [] });
    orders.get(line.orderId).lines.push(line);
  }
  return h(
    "section.ordered-lines",
    { "data-testid": "ordered-lines" },
    h("h2", t("ordered.title")),
    [...orders.entries()].map(([id, order]) =>
      h(
        "div.ordered-order",
        h(
          "p",
          t(order.fulfilment === "DELIVERY" ? "ordered.delivery" : "ordered.collect"),
          " ",
          h("a", { href: `#/orders/${encodeURIComponent(id)}`, "data-testid": "ordered-number" }, t("ordered.number", { number: order.number })),
        ),
        h("ul", order.lines.map((line) => h("li", { "data-gtin": line.gtin }, t("ordered.line", { quantity: line.quantity, name: line.name })))),
      ),
    ),
  );
}

/** What the phone shows once a kiosk holds the cart: where, and what it ordered so far. */
function claimedView(status) {
  const ordered = h("div", { "aria-live": "polite" });
  const stop = cartState.onCart((cart) => replace(ordered, orderedLinesView(cart)));
  const store = status.claimedAtStore?.name;
  const node = h(
    "div.handoff-claimed",
    { "data-testid": "handoff-claimed" },
    notice("success", store ? t("handoff.claimedAt", { store }) : t("handoff.claimed")),
    h("p", t("handoff.claimedHelp")),
    ordered,
    h("p", h("a.button", { href: "#/cart" }, t("handoff.backToCart"))),
  );
  return { node, stop };
}

export async function render() {
  const cart = cartState.currentCart() ?? (await cartState.load().catch(() => null));
  if (!cart || cart.lines.length === 0) {
    return h("section", heading(t("handoff.title")), notice("info", t("handoff.empty")), h("a.button", { href: "#/scan" }, t("handoff.scan")));
  }
  const body = h("div.handoff-body", { "aria-live": "polite" });
  let stopTimer = null;
  let stopFollowing = null;
  let stopClaimed = null;

  function stopAll() {
    stopTimer?.();
    stopFollowing?.();
    stopClaimed?.();
    stopTimer = stopFollowing = stopClaimed = null;
  }

  function follow() {
    stopFollowing = subscribe(FOLLOW, { cartId: cart.id }, {
      onData: ({ cartHandoffUpdated: status }) => {
        if (!status?.claimedAt) return;
        stopAll();
        const claimed = claimedView(status);
        stopClaimed = claimed.stop;
        replace(body, claimed.node);
      },
      // Not followed (offline, an older server): the countdown still tells the truth.
      onError: (error) => console.warn("handoff not followed:", error.message),
    });
  }

  async function issue() {
    stopAll();
    replace(body, h("p.loading", t("handoff.getting")));
    try {
      const result = payload((await gql(CREATE, { input: { cartId: cart.id } })).cartHandoffCreate);
      const validity = h("p.small", { role: "timer", "data-testid": "handoff-timer" });
      const again = h("button.button", { type: "button", onclick: () => busy(again, issue) }, t("handoff.newCode"));
      replace(
        body,
        h("p", t("handoff.instructions")),
        h("p.handoff-code", { "data-testid": "handoff-code", "aria-label": t("handoff.codeLabel", { code: result.code.split("").join(" ") }) }, result.code),
        h(
          "div.handoff-images",
          h("img", { src: result.barcodeUrl, alt: t("handoff.barcodeAlt", { code: result.code }), width: "320", height: "120", referrerpolicy: "no-referrer" }),
          h("img.handoff-qr", { src: result.qrUrl, alt: t("handoff.qrAlt", { code: result.code }), width: "220", height: "220", referrerpolicy: "no-referrer" }),
        ),
        validity,
        h("p", again, " ", h("a.button.button-ghost", { href: "#/cart" }, t("handoff.backToCart"))),
      );
      stopTimer = countdown(result.expiresAt, validity, () => again.classList.add("button-primary"));
      follow();
    } catch (error) {
      replace(body, notice("error", error.message), h("button.button", { type: "button", onclick: issue }, t("handoff.tryAgain")));
    }
  }

  issue();
  return {
    node: h(
      "section.screen-handoff",
      heading(t("handoff.title")),
      h("p.lede", t("handoff.lede", { count: cart.totalQuantity, subtotal: money(cart.subtotal) })),
      body,
    ),
    cleanup: stopAll,
  };
}
