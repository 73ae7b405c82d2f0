// "Continue at the kiosk": a single-use code, shown large as text, Code 128 and QR, that
// an order station in the store scans or types to pick this cart up.

import { gql, payload } from "../api.js";
import * as cartState from "../cart-state.js";
import { busy, h, heading, notice, replace } from "../dom.js";

const CREATE = `mutation CartHandoffCreate($input: CartHandoffCreateInput!) {
  cartHandoffCreate(input: $input) { code expiresAt barcodeUrl qrUrl errors { code field message } }
}`;

function countdown(expiresAt, element, onExpire) {
  const tick = () => {
    const seconds = Math.max(0, Math.round((new Date(expiresAt).getTime() - Date.now()) / 1000));
    if (seconds === 0) {
      element.textContent = "This code has expired.";
      onExpire();
      return false;
    }
    element.textContent = `Valid for ${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")} more, once.`;
    return true;
  };
  tick();
  const timer = setInterval(() => tick() || clearInterval(timer), 1000);
  return () => clearInterval(timer);
}

export async function render() {
  const cart = cartState.currentCart() ?? (await cartState.load().catch(() => null));
  if (!cart || cart.lines.length === 0) {
    return h("section", heading("Continue at the kiosk"), notice("info", "Your cart is empty: add something first."), h("a.button", { href: "#/scan" }, "Scan a product"));
  }
  const body = h("div.handoff-body", { "aria-live": "polite" });
  let stopTimer = null;

  async function issue() {
    stopTimer?.();
    replace(body, h("p.loading", "Getting a code…"));
    try {
      const result = payload((await gql(CREATE, { input: { cartId: cart.id } })).cartHandoffCreate);
      const validity = h("p.small", { role: "timer" });
      const again = h("button.button", { type: "button", onclick: () => busy(again, issue) }, "New code");
      replace(
        body,
        h("p", "At an order station, scan this or type the code:"),
        h("p.handoff-code", { "data-testid": "handoff-code", "aria-label": `Code ${result.code.split("").join(" ")}` }, result.code),
        h(
          "div.handoff-images",
          h("img", { src: result.barcodeUrl, alt: `Barcode of the code ${result.code}`, width: "320", height: "120", referrerpolicy: "no-referrer" }),
          h("img.handoff-qr", { src: result.qrUrl, alt: `QR code of the code ${result.code}`, width: "220", height: "220", referrerpolicy: "no-referrer" }),
        ),
        validity,
        h("p", again, " ", h("a.button.button-ghost", { href: "#/cart" }, "Back to the cart")),
      );
      stopTimer = countdown(result.expiresAt, validity, () => again.classList.add("button-primary"));
    } catch (error) {
      replace(body, notice("error", error.message), h("button.button", { type: "button", onclick: issue }, "Try again"));
    }
  }

  issue();
  return {
    node: h(
      "section.screen-handoff",
      heading("Continue at the kiosk"),
      h("p.lede", `Your cart: ${cart.totalQuantity} item${cart.totalQuantity === 1 ? "" : "s"}, ${cart.subtotal.formatted}.`),
      body,
    ),
    cleanup: () => stopTimer?.(),
  };
}
