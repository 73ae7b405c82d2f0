// Checkout: click and collect in a store (stock reserved there) or home delivery. Every line
// shows what the chosen way has of it; a short line offers one-tap fixes (take what is there,
// collect the rest at a store that has it, deliver it, or remove it).

import { ApiError, gql, idempotencyKey, isUnsupported } from "../api.js";
import * as cartState from "../cart-state.js";
import { busy, h, heading, notice, replace } from "../dom.js";
import { money, t } from "../i18n.js";
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

/** What a fix placed: "Ordered: 1 at Oslo Storo (OC-1001), 3 at … (OC-1002)." */
function placedText(orders) {
  const parts = orders.map((o) => t("checkout.placedPart", { quantity: o.quantity, where: o.where, number: o.number }));
  return t("checkout.placed", { orders: parts.join(", ") });
}

function channel() {
  return matchMedia("(display-mode: standalone)").matches ? "APP" : "WEB";
}

/** Units of a line the chosen way has: a store's stock, or the online warehouse's. */
function availableFor(line, choice) {
  const availability = line.product.availability;
  if (!availability) return null;
  if (choice.kind === "delivery") return availability.online?.available ?? 0;
  const level = availability.stores?.find((s) => s.store?.id === choice.storeId);
  if (level) return level.available;
  return choice.storeId === session.store()?.id ? (availability.here?.available ?? 0) : null;
}

/**
 * Place one order (of `lineIds`, or the whole cart) and remember it on the device; the cart
 * goes on as the server says (what is left, a customer's fresh cart, or none). Throws ApiError.
 */
async function placeOrder(fulfilment, { lineIds = null, key = idempotencyKey() } = {}) {
  const current = cartState.currentCart();
  const guestToken = session.get("cart")?.token ?? null;
  const input = { cartId: current.id, expectedVersion: current.version, fulfilment, channel: channel(), idempotencyKey: key };
  if (lineIds) input.lineIds = lineIds;
  // The whole cart closes: this device's own doing, not "closed on another device".
  if (!lineIds || lineIds.length === current.lines.length) cartState.expectClose();
  const result = (await gql(CHECKOUT, { input })).checkout;
  if (result.errors.length) {
    const [first] = result.errors;
    if (first.code === "VERSION_CONFLICT" || result.unavailableLines?.length) await cartState.refresh().catch(() => {});
    throw new ApiError(first.message, { code: first.code, field: first.field, errors: result.errors });
  }
  const orders = (session.get("orders") || []).filter((o) => o.id !== result.order.id);
  // A guest reaches the order with the token of the cart that placed it: keep it.
  orders.unshift({ id: result.order.id, number: result.order.number, ...(guestToken ? { token: guestToken } : {}) });
  session.set({ orders: orders.slice(0, 20) });
  if (result.cart) {
    // A customer's fresh cart, or what a split left behind: go on with it.
    await cartState.refresh().catch(() => {});
    if (cartState.currentCart()?.id !== result.cart.id) await cartState.load().catch(() => {});
  } else {
    cartState.forget();
    await reconnect();
  }
  return result.order;
}

/** Take `here` units at the chosen store and order the rest for collection at `other`. */
async function collectRest(line, here, choice, other) {
  const placed = [];
  const rest = line.quantity - here;
  if (here > 0) {
    await cartState.setQuantity(line.id, here);
    const order = await placeOrder({ clickAndCollect: { storeId: choice.storeId } }, { lineIds: [line.id] });
    placed.push({ ...order, quantity: here, where: t("checkout.atStore", { store: choice.storeName }) });
  }
  const cart = await cartState.addLine(line.product.gtin, rest);
  const again = cart.lines.find((l) => l.product.gtin === line.product.gtin);
  const order = await placeOrder({ clickAndCollect: { storeId: other.id } }, { lineIds: [again.id] });
  placed.push({ ...order, quantity: rest, where: t("checkout.atStore", { store: other.name }) });
  return placed;
}

/** The fixes for a line the chosen way is short of, as buttons running `act(work)`. */
function fixesFor(line, available, choice, act, address) {
  const where = choice.kind === "delivery" ? t("checkout.forDelivery") : t("checkout.atStore", { store: choice.storeName });
  const fixes = [];
  const button = (label, work, testid) => h("button.button.button-small", { type: "button", "data-fix": testid, onclick: (event) => act(event.currentTarget, work) }, label);
  if (available > 0) fixes.push(button(t("checkout.takeHere", { count: available, where }), () => cartState.setQuantity(line.id, available), "take"));
  if (choice.kind === "collect") {
    const rest = line.quantity - available;
    const other = line.product.availability.stores.find((s) => s.store && s.store.id !== choice.storeId && s.available >= rest);
    if (other) {
      const label = available > 0 ? t("checkout.collectRest", { count: available, where, rest, other: other.store.name }) : t("checkout.collectAll", { other: other.store.name });
      fixes.push(button(label, () => collectRest(line, available, choice, other.store), "collect-rest"));
    }
    if ((line.product.availability.online?.available ?? 0) >= line.quantity) {
      fixes.push(
        button(t("checkout.deliverAll", { count: line.quantity }), () => {
          if (!address.value.trim()) throw new ApiError(t("checkout.needAddress"), { code: "INVALID_INPUT" });
          return placeOrder({ delivery: { address: address.value.trim() } }, { lineIds: [line.id] }).then((order) => [{ ...order, quantity: line.quantity, where: t("checkout.forDelivery") }]);
        }, "deliver"),
      );
    }
  }
  fixes.push(button(t("checkout.removeLine"), () => cartState.removeLine(line.id), "remove"));
  return h("div.line-fixes", { "data-testid": "line-fixes" }, fixes);
}

function lineRow(line, choice, act, address) {
  const available = availableFor(line, choice);
  const where = choice.kind === "delivery" ? t("checkout.forDelivery") : t("checkout.atStore", { store: choice.storeName });
  const short = available !== null && available < line.quantity;
  return h(
    "li.checkout-line",
    { "data-gtin": line.product.gtin, "data-short": short ? "true" : "false" },
    h("span", `${line.quantity} × ${line.product.name}`),
    h("span", money(line.lineTotal)),
    available === null ? null : h(`span.small.line-availability${short ? ".is-short" : ""}`, { "data-testid": "line-availability" }, short ? t("checkout.short", { quantity: line.quantity, available, where }) : t("checkout.enough", { available, where })),
    short ? fixesFor(line, available, choice, act, address) : null,
  );
}

export async function render() {
  let cart = cartState.currentCart();
  try {
    cart = cart ?? (await cartState.load());
  } catch (error) {
    return h("section", heading(t("checkout.title")), notice("error", error.message));
  }
  if (!cart || cart.lines.length === 0) {
    return h("section", heading(t("checkout.title")), notice("info", t("cart.empty")), h("a.button", { href: "#/scan" }, t("cart.scan")));
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
  const lines = h("ul.link-list", { "data-testid": "checkout-lines" });
  const total = h("strong");
  const submit = h("button.button.button-primary.button-large.button-block", { type: "submit", "data-testid": "place-order" });
  const choice = () => {
    if (!collect.checked) return { kind: "delivery" };
    const store = stores.find((s) => s.id === storeSelect.value);
    return { kind: "collect", storeId: storeSelect.value, storeName: store?.name ?? myStore?.name ?? "" };
  };
  // A fix runs once; orders it placed are said, and the screen shows the cart as it is now.
  const act = (button, work) =>
    busy(button, async () => {
      replace(feedback);
      try {
        const placed = await work();
        if (Array.isArray(placed)) replace(feedback, notice("success", placedText(placed)), ...placed.map((o) => h("a.button.button-small", { href: `#/orders/${encodeURIComponent(o.id)}` }, o.number)));
      } catch (error) {
        replace(feedback, notice("error", error.message));
      }
      draw(cartState.currentCart());
    });
  const draw = (now) => {
    if (!now || now.lines.length === 0) {
      replace(lines);
      submit.disabled = true;
      total.textContent = "";
      return;
    }
    replace(lines, now.lines.map((line) => lineRow(line, choice(), act, address)));
    total.textContent = money(now.subtotal);
    // Offline an order cannot be placed: say so instead of letting it fail.
    submit.disabled = !navigator.onLine;
    offlineNote.hidden = navigator.onLine;
    submit.textContent = t("checkout.placeOrder", { total: money(now.subtotal) });
  };
  const offlineNote = h("p.notice.notice-warning", { role: "status", "data-testid": "checkout-offline", hidden: true }, t("checkout.offline"));
  const redraw = () => draw(cartState.currentCart());
  addEventListener("online", redraw);
  addEventListener("offline", redraw);
  const sync = () => {
    storeSelect.disabled = !collect.checked;
    address.disabled = !deliver.checked;
    address.required = deliver.checked;
    draw(cartState.currentCart());
  };
  collect.addEventListener("change", sync);
  deliver.addEventListener("change", sync);
  storeSelect.addEventListener("change", sync);
  const key = idempotencyKey(); // one key per visit: a double tap places one order
  const form = h(
    "form.checkout-form",
    {
      onsubmit: (event) => {
        event.preventDefault();
        busy(submit, async () => {
          replace(feedback);
          const fulfilment = collect.checked ? { clickAndCollect: { storeId: storeSelect.value } } : { delivery: { address: address.value.trim() } };
          try {
            const order = await placeOrder(fulfilment, { key });
            navigate(`/orders/${encodeURIComponent(order.id)}`);
          } catch (error) {
            replace(feedback, notice("error", isUnsupported(error) ? t("checkout.unsupported") : error.message));
          }
        });
      },
    },
    h(
      "fieldset",
      h("legend", t("checkout.how")),
      h("label.choice", { for: "how-collect" }, collect, h("span", h("strong", t("checkout.collect")), h("br"), h("span.small", t("checkout.collectHint")))),
      h("div.field", h("label", { for: "pickup-store" }, t("checkout.collectAt")), storeSelect),
      h("label.choice", { for: "how-deliver" }, deliver, h("span", h("strong", t("checkout.delivery")), h("br"), h("span.small", t("checkout.deliveryHint")))),
      h("div.field", h("label", { for: "delivery-address" }, t("checkout.address")), address),
    ),
    feedback,
    offlineNote,
    submit,
  );
  const stop = cartState.onCart(draw);
  return {
    node: h("section.screen-checkout", heading(t("checkout.title")), lines, h("p.cart-summary", h("span", t("checkout.total")), total), form),
    cleanup: () => {
      stop();
      removeEventListener("online", redraw);
      removeEventListener("offline", redraw);
    },
  };
}
