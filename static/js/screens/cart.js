// The cart, live across devices: lines with steppers, the subtotal, and the ways on:
// checkout, continue at the kiosk, sign in to keep it.

import { isUnsupported } from "../api.js";
import * as cartState from "../cart-state.js";
import { h, heading, notice, productImage, replace } from "../dom.js";
import * as session from "../session.js";
import { orderedLinesView } from "./handoff.js";

// The screen's words, in one place for a later message catalog.
const TEXT = {
  stock: (here, storeName, online) => `${here} available at ${storeName} · ${online} online`,
  short: (quantity, here, storeName) => `Only ${here} of ${quantity} at ${storeName}: checkout offers ways to get the rest.`,
};

/** The line's stock at the chosen store and online, and a warning when the store is short. */
function stockNote(line) {
  const availability = line.product.availability;
  const store = session.store();
  if (!availability || !store) return null;
  const here = availability.here?.available ?? 0;
  const short = here < line.quantity;
  return h(
    `div.small.line-stock${short ? ".is-short" : ""}`,
    { "data-testid": "line-stock" },
    TEXT.stock(here, store.name, availability.online?.available ?? 0),
    short ? h("strong.line-short", { "data-testid": "line-short" }, " — ", TEXT.short(line.quantity, here, store.name)) : null,
  );
}

function lineView(line, feedback) {
  const run = async (work) => {
    replace(feedback);
    try {
      await work();
    } catch (error) {
      const text = error.code === "VERSION_CONFLICT" ? "The cart changed on another device; this is the newest version. Try again." : error.message;
      replace(feedback, notice("error", text));
    }
  };
  const name = line.product.name;
  return h(
    "li.cart-line",
    { "data-line": line.id, "data-gtin": line.product.gtin },
    productImage(line.product.imageUrl, "", "sm"),
    h(
      "div",
      h("a.card-title", { href: `#/product/${line.product.gtin}` }, name),
      h("div.small", line.product.brand ? `${line.product.brand} · ` : "", `${line.unitPrice.formatted} each`),
      stockNote(line),
    ),
    h(
      "div.line-controls",
      h(
        "div.stepper",
        { role: "group", "aria-label": `Quantity of ${name}` },
        h("button", { type: "button", "aria-label": `One less ${name}`, onclick: () => run(() => cartState.setQuantity(line.id, line.quantity - 1)) }, "−"),
        h("output", { "aria-live": "polite", "data-testid": "line-quantity" }, String(line.quantity)),
        h("button", { type: "button", "aria-label": `One more ${name}`, disabled: line.quantity >= 99, onclick: () => run(() => cartState.setQuantity(line.id, line.quantity + 1)) }, "+"),
      ),
      h("button.button.button-ghost.button-small", { type: "button", onclick: () => run(() => cartState.removeLine(line.id)) }, "Remove"),
      h("span.line-total", line.lineTotal.formatted),
    ),
  );
}

/** Render a cart's lines, subtotal and actions into `container` (used on each update). */
function fill(container, cart, live, feedback, paused = false) {
  const waiting = paused ? "Live updates are paused; this is your cart as it is now." : navigator.onLine ? "Connecting for live updates…" : "Offline: live updates resume when you are back online.";
  const liveBadge = h("p.small", { "data-testid": "live-status" }, h("span.live-dot", { class: live ? "is-live" : "" }), live ? "Live: changes on your other devices show here at once." : waiting);
  if (!cart || cart.lines.length === 0) {
    replace(
      container,
      notice("info", "Your cart is empty."),
      h("p", h("a.button.button-primary", { href: "#/scan" }, "Scan a product"), " ", h("a.button", { href: "#/search" }, "Search")),
      cart ? liveBadge : null,
      orderedLinesView(cart),
    );
    return;
  }
  const signedIn = Boolean(session.get("authToken"));
  replace(
    container,
    liveBadge,
    h("ul.line-list", { "data-testid": "cart-lines" }, cart.lines.map((line) => lineView(line, feedback))),
    orderedLinesView(cart),
    h("p.cart-summary", h("span", `Subtotal, ${cart.totalQuantity} item${cart.totalQuantity === 1 ? "" : "s"}`), h("strong", { "data-testid": "cart-subtotal" }, cart.subtotal.formatted)),
    h(
      "div.cart-actions",
      h("a.button.button-primary.button-large", { href: "#/checkout" }, "Checkout"),
      h("a.button.button-large", { href: "#/handoff", "data-testid": "continue-at-kiosk" }, "Continue at the kiosk"),
      signedIn ? null : h("p.small", h("a", { href: "#/account?next=/cart" }, "Sign in"), " to keep this cart on all your devices."),
    ),
  );
}

export async function render() {
  const container = h("div.cart-body", { "aria-live": "polite" }, h("p.loading", "Loading your cart…"));
  const feedback = h("div.cart-feedback");
  try {
    await cartState.load();
  } catch (error) {
    if (isUnsupported(error)) {
      return h("section", heading("Your cart"), notice("info", "Carts are not available on this server yet."));
    }
    // Offline without a saved copy, or the server is down: show what we have.
    replace(feedback, notice("error", error.message));
  }
  const stop = cartState.onCart((cart, { live, paused }) => fill(container, cart, live, feedback, paused));
  return {
    node: h("section.screen-cart", heading("Your cart"), feedback, container),
    cleanup: stop,
  };
}
