// Order status, live (`orderUpdated`), with the order number as a barcode for the counter;
// and the list of the shopper's orders.

import { gql, isUnsupported } from "../api.js";
import { code128Svg } from "../code128.js";
import { h, heading, notice, replace } from "../dom.js";
import { date, dateTime, money, t } from "../i18n.js";
import { subscribe } from "../live.js";
import { enablePush, pushSupported } from "../push.js";
import * as session from "../session.js";
import { pointsAfterCollection } from "./club.js";

const ORDER_FIELDS = `
  id number status fulfilment createdAt updatedAt pickupDeadline deliveryAddress
  pickupStore { id name address city }
  totalQuantity total { amount currency }
  lines { id name quantity lineTotal { amount currency } }
  history { toStatus at }`;
const ORDER = `query Order($id: ID!) { order(id: $id) { ${ORDER_FIELDS} } }`;
const UPDATED = `subscription OrderUpdated($orderId: ID!) { orderUpdated(orderId: $orderId) { ${ORDER_FIELDS} } }`;
const MY_ORDERS = `query MyOrders { orders(first: 20) { edges { node { id number status fulfilment createdAt total { amount currency } pickupStore { name } } } } }`;

// An order status as the shopper reads it, in the current language (read at each use).
export const STATUS_TEXT = {
  get PLACED() { return t("order.statusPlaced"); },
  get READY_FOR_PICKUP() { return t("order.statusReady"); },
  get COLLECTED() { return t("order.statusCollected"); },
  get SHIPPED() { return t("order.statusShipped"); },
  get DELIVERED() { return t("order.statusDelivered"); },
  get CANCELLED() { return t("order.statusCancelled"); },
  get EXPIRED() { return t("order.statusExpired"); },
  get RETURNED() { return t("order.statusReturned"); },
};
const STEPS = {
  CLICK_AND_COLLECT: ["PLACED", "READY_FOR_PICKUP", "COLLECTED"],
  DELIVERY: ["PLACED", "SHIPPED", "DELIVERED"],
};

/** The headers that reach an order a guest placed (the placing cart's token). */
function guestHeaders(orderId) {
  const saved = (session.get("orders") || []).find((o) => o.id === orderId);
  return saved?.token && !session.get("authToken") ? { "X-Cart-Token": saved.token } : {};
}

function statusView(order) {
  const steps = STEPS[order.fulfilment] ?? STEPS.CLICK_AND_COLLECT;
  const at = steps.indexOf(order.status);
  const store = order.pickupStore?.name ?? "";
  const when = order.fulfilment === "CLICK_AND_COLLECT"
    ? order.status === "READY_FOR_PICKUP"
      ? order.pickupDeadline
        ? t("order.collectBy", { store, deadline: date(order.pickupDeadline, { weekday: "long", day: "numeric", month: "long" }) })
        : t("order.collect", { store })
      : t("order.collectLater", { store })
    : t("order.delivery", { address: order.deliveryAddress });
  return [
    h("p.order-status", { "data-testid": "order-status", "data-status": order.status }, STATUS_TEXT[order.status] ?? order.status),
    h("p", when),
    at >= 0
      ? h("ol.order-steps", steps.map((step, i) => h("li", { class: i < at ? "is-done" : i === at ? "is-current" : "", "aria-current": i === at ? "step" : null }, STATUS_TEXT[step])))
      : null,
  ];
}

/** A "Notify me" button: subscribes this browser to the order's messages once pressed. */
function pushOffer(orderId) {
  if (!pushSupported() || Notification.permission === "denied") return null;
  const button = h("button.secondary", { type: "button", "data-testid": "order-notify" }, t("order.notify"));
  button.addEventListener("click", async () => {
    button.disabled = true;
    const kept = await enablePush(guestHeaders(orderId)).catch(() => false);
    button.replaceWith(h("p", kept ? t("order.notifyOn") : t("order.notifyDenied")));
  });
  return button;
}

export async function render({ id }) {
  let order;
  try {
    order = (await gql(ORDER, { id }, { headers: guestHeaders(id) })).order;
  } catch (error) {
    return h("section", heading(t("order.titleBare")), notice("error", isUnsupported(error) ? t("order.unsupported") : error.message));
  }
  if (!order) return h("section", heading(t("order.titleBare")), notice("info", t("order.notFound")));

  const status = h("div.order-live", { "aria-live": "polite" }, statusView(order));
  const points = h("div", { "aria-live": "polite" });
  pointsAfterCollection(points, order);
  const unsubscribe = subscribe(UPDATED, { orderId: id }, {
    onData: (data) => {
      replace(status, statusView(data.orderUpdated));
      pointsAfterCollection(points, data.orderUpdated);
    },
    onError: (error) => console.warn("order updates stopped:", error.message),
  });
  return {
    node: h(
      "section.screen-order",
      heading(t("order.title", { number: order.number })),
      h("p.small", { "data-testid": "order-placed-at" }, t("order.placedAt", { when: dateTime(order.createdAt) })),
      status,
      points,
      pushOffer(id),
      h("figure.barcode", code128Svg(order.number, { height: 70 })),
      h("h2", t("order.lines")),
      h("table", h("tbody", order.lines.map((line) => h("tr", h("td", `${line.quantity} × ${line.name}`), h("td.num", money(line.lineTotal)))))),
      h("p.cart-summary", h("span", t("order.total")), h("strong", money(order.total))),
      h("p", h("a", { href: "#/orders" }, t("order.all"))),
    ),
    cleanup: unsubscribe,
  };
}

export async function renderList() {
  const signedIn = Boolean(session.get("authToken"));
  let edges = [];
  try {
    edges = (await gql(MY_ORDERS)).orders.edges;
  } catch (error) {
    if (!isUnsupported(error)) return h("section", heading(t("order.listTitle")), notice("error", error.message));
  }
  // A guest's orders are each reached with their own cart token: list what this device placed.
  const known = new Map(edges.map((e) => [e.node.id, e.node]));
  const remembered = signedIn ? [] : (session.get("orders") || []).filter((o) => !known.has(o.id));
  if (!edges.length && !remembered.length) {
    return h("section", heading(t("order.listTitle")), notice("info", t("order.none")), signedIn ? null : h("p", h("a", { href: "#/account?next=/orders" }, t("account.signIn")), " ", t("order.signInToSee")));
  }
  return h(
    "section.screen-orders",
    heading(t("order.listTitle")),
    h(
      "ul.link-list",
      edges.map(({ node }) =>
        h("li", h("a", { href: `#/orders/${encodeURIComponent(node.id)}` }, `${node.number} · ${date(node.createdAt)} · ${STATUS_TEXT[node.status] ?? node.status} · ${money(node.total)}`)),
      ),
      remembered.map((o) => h("li", h("a", { href: `#/orders/${encodeURIComponent(o.id)}` }, t("order.title", { number: o.number })))),
    ),
  );
}
