// The cart, live across devices: lines with steppers, the subtotal, and the ways on:
// checkout, continue at the kiosk, sign in to keep it.

import { isUnsupported } from "../api.js";
import * as cartState from "../cart-state.js";
import { h, heading, notice, replace } from "../dom.js";
import { money, t } from "../i18n.js";
import * as session from "../session.js";
import { orderedLinesView } from "./handoff.js";
import { productPicture } from "../product-view.js";

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
    t("cart.lineStock", { here, store: store.name, online: availability.online?.available ?? 0 }),
    short ? h("strong.line-short", { "data-testid": "line-short" }, " — ", t("cart.lineShort", { quantity: line.quantity, here, store: store.name })) : null,
  );
}

function lineView(line, feedback) {
  const run = async (work) => {
    replace(feedback);
    try {
      await work();
    } catch (error) {
      const text = error.code === "VERSION_CONFLICT" ? t("cart.versionConflict") : error.message;
      replace(feedback, notice("error", text));
    }
  };
  const name = line.product.name;
  return h(
    "li.cart-line",
    { "data-line": line.id, "data-gtin": line.product.gtin },
    productPicture(line.product.imageUrl, "", "sm"),
    h(
      "div",
      h("a.card-title", { href: `#/product/${line.product.gtin}` }, name),
      h("div.small", line.product.brand ? `${line.product.brand} · ` : "", t("cart.each", { price: money(line.unitPrice) })),
      stockNote(line),
    ),
    h(
      "div.line-controls",
      h(
        "div.stepper",
        { role: "group", "aria-label": t("cart.quantityOf", { name }) },
        h("button", { type: "button", "aria-label": t("cart.oneLess", { name }), onclick: () => run(() => cartState.setQuantity(line.id, line.quantity - 1)) }, "−"),
        h("output", { "aria-live": "polite", "data-testid": "line-quantity" }, String(line.quantity)),
        h("button", { type: "button", "aria-label": t("cart.oneMore", { name }), disabled: line.quantity >= 99, onclick: () => run(() => cartState.setQuantity(line.id, line.quantity + 1)) }, "+"),
      ),
      h("button.button.button-ghost.button-small", { type: "button", onclick: () => run(() => cartState.removeLine(line.id)) }, t("cart.remove")),
      h("span.line-total", money(line.lineTotal)),
    ),
  );
}

/** Render a cart's lines, subtotal and actions into `container` (used on each update). */
function fill(container, cart, live, feedback, paused = false) {
  const waiting = paused ? t("cart.livePaused") : navigator.onLine ? t("cart.liveConnecting") : t("cart.liveOffline");
  const liveBadge = h("p.small", { "data-testid": "live-status" }, h("span.live-dot", { class: live ? "is-live" : "" }), live ? t("cart.live") : waiting);
  if (!cart || cart.lines.length === 0) {
    replace(
      container,
      notice("info", t("cart.empty")),
      h("p", h("a.button.button-primary", { href: "#/scan" }, t("cart.scan")), " ", h("a.button", { href: "#/search" }, t("cart.search"))),
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
    h("p.cart-summary", h("span", t("cart.subtotal", { count: cart.totalQuantity })), h("strong", { "data-testid": "cart-subtotal" }, money(cart.subtotal))),
    h(
      "div.cart-actions",
      h("a.button.button-primary.button-large", { href: "#/checkout" }, t("cart.checkout")),
      h("a.button.button-large", { href: "#/handoff", "data-testid": "continue-at-kiosk" }, t("cart.continueAtKiosk")),
      signedIn ? null : h("p.small", h("a", { href: "#/account?next=/cart" }, t("cart.signIn")), " ", t("cart.signInToKeep")),
    ),
  );
}

export async function render() {
  const container = h("div.cart-body", { "aria-live": "polite" }, h("p.loading", t("cart.loading")));
  const feedback = h("div.cart-feedback");
  try {
    await cartState.load();
  } catch (error) {
    if (isUnsupported(error)) {
      return h("section", heading(t("cart.title")), notice("info", t("cart.unsupported")));
    }
    // Offline without a saved copy, or the server is down: show what we have.
    replace(feedback, notice("error", error.message));
  }
  const stop = cartState.onCart((cart, { live, paused }) => fill(container, cart, live, feedback, paused));
  return {
    node: h("section.screen-cart", heading(t("cart.title")), feedback, container),
    cleanup: stop,
  };
}
