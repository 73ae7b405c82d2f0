// Order status, live (`orderUpdated`), with the order number as a barcode for the counter;
// and the list of the shopper's orders.

import { gql, isUnsupported } from "../api.js";
import { code128Svg } from "../code128.js";
import { h, heading, notice, replace } from "../dom.js";
import { subscribe } from "../live.js";
import { enablePush, pushSupported } from "../push.js";
import * as session from "../session.js";
import { pointsAfterCollection } from "./club.js";

const ORDER_FIELDS = `
  id number status fulfilment createdAt updatedAt pickupDeadline deliveryAddress
  pickupStore { id name address city }
  totalQuantity total { formatted }
  lines { id name quantity lineTotal { formatted } }
  history { toStatus at }`;
const ORDER = `query Order($id: ID!) { order(id: $id) { ${ORDER_FIELDS} } }`;
const UPDATED = `subscription OrderUpdated($orderId: ID!) { orderUpdated(orderId: $orderId) { ${ORDER_FIELDS} } }`;
const MY_ORDERS = `query MyOrders { orders(first: 20) { edges { node { id number status fulfilment createdAt total { formatted } pickupStore { name } } } } }`;

export const STATUS_TEXT = {
  PLACED: "Placed",
  READY_FOR_PICKUP: "Ready for pickup",
  COLLECTED: "Collected",
  SHIPPED: "On its way",
  DELIVERED: "Delivered",
  CANCELLED: "Cancelled",
  EXPIRED: "Expired (not collected in time)",
  RETURNED: "Returned",
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
  const when = order.fulfilment === "CLICK_AND_COLLECT"
    ? order.status === "READY_FOR_PICKUP"
      ? `Collect it at ${order.pickupStore?.name}${order.pickupDeadline ? ` by ${new Date(order.pickupDeadline).toLocaleDateString(undefined, { weekday: "long", day: "numeric", month: "long" })}` : ""}. Show this barcode at the counter.`
      : `Click and collect at ${order.pickupStore?.name}. We tell you here when it is ready.`
    : `Home delivery to ${order.deliveryAddress}.`;
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
  const button = h("button.secondary", { type: "button", "data-testid": "order-notify" }, "Notify me on this device");
  button.addEventListener("click", async () => {
    button.disabled = true;
    const kept = await enablePush(guestHeaders(orderId)).catch(() => false);
    button.replaceWith(h("p", kept ? "This device will be told when the order moves on." : "Notifications are not allowed on this device."));
  });
  return button;
}

export async function render({ id }) {
  let order;
  try {
    order = (await gql(ORDER, { id }, { headers: guestHeaders(id) })).order;
  } catch (error) {
    return h("section", heading("Order"), notice("error", isUnsupported(error) ? "Orders are not available on this server yet." : error.message));
  }
  if (!order) return h("section", heading("Order"), notice("info", "This order was not found on this device. Sign in to see your orders."));

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
      heading(`Order ${order.number}`),
      status,
      points,
      pushOffer(id),
      h("figure.barcode", code128Svg(order.number, { height: 70 })),
      h("h2", "What you ordered"),
      h("table", h("tbody", order.lines.map((line) => h("tr", h("td", `${line.quantity} × ${line.name}`), h("td.num", line.lineTotal.formatted))))),
      h("p.cart-summary", h("span", "Total"), h("strong", order.total.formatted)),
      h("p", h("a", { href: "#/orders" }, "All your orders")),
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
    if (!isUnsupported(error)) return h("section", heading("Your orders"), notice("error", error.message));
  }
  // A guest's orders are each reached with their own cart token: list what this device placed.
  const known = new Map(edges.map((e) => [e.node.id, e.node]));
  const remembered = signedIn ? [] : (session.get("orders") || []).filter((o) => !known.has(o.id));
  if (!edges.length && !remembered.length) {
    return h("section", heading("Your orders"), notice("info", "No orders yet."), signedIn ? null : h("p", h("a", { href: "#/account?next=/orders" }, "Sign in"), " to see orders from your other devices."));
  }
  return h(
    "section.screen-orders",
    heading("Your orders"),
    h(
      "ul.link-list",
      edges.map(({ node }) =>
        h("li", h("a", { href: `#/orders/${encodeURIComponent(node.id)}` }, `${node.number} · ${STATUS_TEXT[node.status] ?? node.status} · ${node.total.formatted}`)),
      ),
      remembered.map((o) => h("li", h("a", { href: `#/orders/${encodeURIComponent(o.id)}` }, `Order ${o.number}`))),
    ),
  );
}
