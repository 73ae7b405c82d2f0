// Checkout: click and collect in a store (stock reserved there) or home delivery.

import { gql, idempotencyKey, isUnsupported, payload } from "../api.js";
import * as cartState from "../cart-state.js";
import { busy, h, heading, notice, replace } from "../dom.js";
import { reconnect } from "../live.js";
import { navigate } from "../router.js";
import * as session from "../session.js";
import { fetchStores } from "./stores.js";

const CHECKOUT = `mutation Checkout($input: CheckoutInput!) {
  checkout(input: $input) {
    order { id number status }
    cart { id version }
    unavailableLines { lineId requested available }
    errors { code field message }
  }
}`;

function channel() {
  return matchMedia("(display-mode: standalone)").matches ? "APP" : "WEB";
}

function shortfallText(error, cart) {
  const byLine = new Map(cart.lines.map((line) => [line.id, line]));
  const lines = (error.unavailable ?? []).map((u) => {
    const line = byLine.get(u.lineId);
    return h("li", `${line?.product.name ?? "An item"}: ${u.available} of ${u.requested} available`);
  });
  return [notice("error", error.message), lines.length ? h("ul", lines) : null];
}

export async function render() {
  let cart = cartState.currentCart();
  try {
    cart = cart ?? (await cartState.load());
  } catch (error) {
    return h("section", heading("Checkout"), notice("error", error.message));
  }
  if (!cart || cart.lines.length === 0) {
    return h("section", heading("Checkout"), notice("info", "Your cart is empty."), h("a.button", { href: "#/scan" }, "Scan a product"));
  }
  let stores = [];
  try {
    stores = await fetchStores();
  } catch {
    // offline: delivery can still be chosen, the order will fail with a clear message
  }
  const myStore = session.store();
  const feedback = h("div", { "aria-live": "assertive" });
  const storeSelect = h("select#pickup-store", { name: "store" }, stores.map((s) => h("option", { value: s.id, selected: s.id === myStore?.id ? "" : null }, `${s.name}${s.city ? `, ${s.city}` : ""}`)));
  const address = h("textarea#delivery-address", { name: "address", rows: "3", autocomplete: "street-address", disabled: true });
  const collect = h("input#how-collect", { type: "radio", name: "how", value: "collect", checked: true });
  const deliver = h("input#how-deliver", { type: "radio", name: "how", value: "delivery" });
  const sync = () => {
    storeSelect.disabled = !collect.checked;
    address.disabled = !deliver.checked;
    address.required = deliver.checked;
  };
  collect.addEventListener("change", sync);
  deliver.addEventListener("change", sync);
  const key = idempotencyKey(); // one key per visit: a double tap places one order
  const submit = h("button.button.button-primary.button-large.button-block", { type: "submit", "data-testid": "place-order" }, `Place order, ${cart.subtotal.formatted}`);
  const form = h(
    "form.checkout-form",
    {
      onsubmit: (event) => {
        event.preventDefault();
        busy(submit, async () => {
          replace(feedback);
          const current = cartState.currentCart() ?? cart;
          const fulfilment = collect.checked ? { clickAndCollect: { storeId: storeSelect.value } } : { delivery: { address: address.value.trim() } };
          try {
            const data = await gql(CHECKOUT, { input: { cartId: current.id, expectedVersion: current.version, fulfilment, channel: channel(), idempotencyKey: key } });
            const result = data.checkout;
            if (result.errors.length) {
              const [first] = result.errors;
              replace(feedback, ...shortfallText({ message: first.message, unavailable: result.unavailableLines }, current));
              if (first.code === "VERSION_CONFLICT") await cartState.load().catch(() => {});
              return;
            }
            payload(result);
            await afterOrder(result);
          } catch (error) {
            replace(feedback, notice("error", isUnsupported(error) ? "Checkout is not available on this server yet." : error.message));
          }
        });
      },
    },
    h(
      "fieldset",
      h("legend", "How do you want it?"),
      h("label.choice", { for: "how-collect" }, collect, h("span", h("strong", "Click and collect"), h("br"), h("span.small", "We put it aside in the store; collect within a few days."))),
      h("div.field", h("label", { for: "pickup-store" }, "Collect at"), storeSelect),
      h("label.choice", { for: "how-deliver" }, deliver, h("span", h("strong", "Home delivery"), h("br"), h("span.small", "From our online warehouse."))),
      h("div.field", h("label", { for: "delivery-address" }, "Delivery address"), address),
    ),
    feedback,
    submit,
  );
  return h(
    "section.screen-checkout",
    heading("Checkout"),
    h(
      "ul.link-list",
      cart.lines.map((line) => h("li.checkout-line", h("span", `${line.quantity} × ${line.product.name}`), h("span", line.lineTotal.formatted))),
    ),
    h("p.cart-summary", h("span", "Total"), h("strong", cart.subtotal.formatted)),
    form,
  );
}

async function afterOrder(result) {
  const guestToken = session.get("cart")?.token ?? null;
  const orders = (session.get("orders") || []).filter((o) => o.id !== result.order.id);
  // A guest reaches the order with the token of the cart that placed it: keep it.
  orders.unshift({ id: result.order.id, number: result.order.number, ...(guestToken ? { token: guestToken } : {}) });
  session.set({ orders: orders.slice(0, 20) });
  if (result.cart) {
    // A customer's fresh cart (or what a split left behind): go on with it.
    cartState.accept(result.cart);
    await cartState.load().catch(() => {});
  } else {
    cartState.forget();
    await reconnect();
  }
  navigate(`/orders/${encodeURIComponent(result.order.id)}`);
}
