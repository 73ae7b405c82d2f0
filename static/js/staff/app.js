// The staff screen (/staff): sign in, the store's orders by status with ready/collected
// actions, customer lookup, and scan analytics drawn in the browser.
//
// Staff sign in as people (staffSignIn); a shared staff tablet may instead be provisioned
// with a device token (/staff#device=dv_…), which runs the order desk only: looking up
// customers and reports need a person, so the audit trail names who looked.

import { gql, isUnsupported, payload } from "../api.js";
import { localiseCredit } from "../credit.js";
import { busy, h, heading, notice, replace } from "../dom.js";
import { addMessages, dateTime, money, number, t } from "../i18n.js";
import { reconnect } from "../live.js";
import staffEn from "../messages/staff.en.js";
import staffNb from "../messages/staff.nb.js";
import { setUpPwa } from "../pwa.js";
import { current, navigate, route, start } from "../router.js";
import * as session from "../session.js";
import { barChart, stat } from "./charts.js";

session.useApp("staff");
addMessages({ en: staffEn, nb: staffNb });

const SIGN_IN = `mutation StaffSignIn($input: StaffSignInInput!) {
  staffSignIn(input: $input) { token expiresAt staff { id name email role store { id name code } } errors { code field message } }
}`;
const SIGN_OUT = `mutation StaffSignOut { staffSignOut { endedSessions errors { code message } } }`;
const STAFF_ME = `query StaffMe { staffMe { id name email role store { id name code } } }`;
const STORES = `query Stores { stores { id code name } }`;
const ORDER_CARD = `id number status fulfilment createdAt pickupDeadline deliveryAddress
  customer { name email phone }
  totalQuantity total { amount currency formatted }
  lines { id name quantity }`;
const STORE_ORDERS = `query StoreOrders($storeId: ID, $status: [OrderStatus!], $first: Int!) {
  storeOrders(storeId: $storeId, status: $status, first: $first) { edges { node { ${ORDER_CARD} } } }
}`;
const ORDER_BY_NUMBER = `query OrderByNumber($number: String!) { orderByNumber(number: $number) { ${ORDER_CARD} } }`;
const ACTIONS = {
  ready: { field: "orderMarkReady", label: "staff.action.ready" },
  collected: { field: "orderMarkCollected", label: "staff.action.collected" },
  cancel: { field: "orderCancel", label: "staff.action.cancel" },
};
const statusText = (status) => t(`staff.status.${status}`);
const action = (field) => `mutation ${field}($input: OrderActionInput!) {
  ${field}(input: $input) { order { ${ORDER_CARD} } errors { code field message } }
}`;
const CUSTOMER_SEARCH = `query CustomerSearch($query: String!) {
  customerSearch(query: $query, first: 20) {
    customer { id name email phone }
    cart { totalQuantity subtotal { amount currency formatted } lines { quantity product { name } } }
    orders(first: 5) { edges { node { id number status total { amount currency formatted } createdAt } } }
    purchaseHistory { name units }
  }
}`;
const SCAN_REPORT = `query ScanReport($storeId: ID!, $since: DateTime!) {
  scanReport(storeId: $storeId, since: $since) {
    since until totalScans unknownScans ledToCart outOfStockScans conversionRate
    topProducts(first: 10) { name gtin scans ledToCart outOfStockScans }
    missedDemand(first: 10) { name gtin scans outOfStockScans }
    unknownCodes(first: 10) { code scans }
  }
}`;
const STATUS_GROUPS = [
  { key: "todo", label: "staff.group.todo", empty: "staff.group.todoEmpty", status: ["PLACED"] },
  { key: "ready", label: "staff.group.ready", empty: "staff.group.readyEmpty", status: ["READY_FOR_PICKUP"] },
  { key: "done", label: "staff.group.done", empty: "staff.group.doneEmpty", status: ["COLLECTED", "SHIPPED", "DELIVERED", "CANCELLED", "EXPIRED", "RETURNED"] },
];
const REFRESH_MS = 10_000;

const who = document.getElementById("staff-who");
const tabs = document.getElementById("staff-tabs");

function staff() {
  return session.get("staff");
}

function storeId() {
  return staff()?.store?.id ?? session.get("store")?.id ?? null;
}

function isPerson() {
  return Boolean(staff());
}

function header() {
  const me = staff();
  const store = me?.store ?? session.get("store");
  const signedIn = Boolean(session.get("authToken"));
  tabs.hidden = !signedIn;
  if (!signedIn) return replace(who);
  const out = h("button.button.button-small", { type: "button", onclick: () => busy(out, signOut) }, t("staff.signOut"));
  replace(who, h("span", [me?.name ?? t("staff.tablet"), store?.name].filter(Boolean).join(" · ")), out);
}

async function signOut() {
  if (isPerson()) await gql(SIGN_OUT).catch(() => {});
  session.set({ authToken: null, staff: null, store: null });
  await reconnect();
  header();
  navigate("/", { replace: true });
}

// ---- sign in ------------------------------------------------------------------------

function signInScreen() {
  const feedback = h("div", { "aria-live": "assertive" });
  const submit = h("button.button.button-primary.button-block", { type: "submit" }, t("staff.signIn"));
  const form = h(
    "form.account-form",
    {
      onsubmit: (event) => {
        event.preventDefault();
        busy(submit, async () => {
          replace(feedback);
          const data = new FormData(form);
          try {
            const result = payload((await gql(SIGN_IN, { input: { email: data.get("email"), password: data.get("password") } })).staffSignIn);
            session.set({ authToken: result.token, staff: result.staff, store: result.staff.store });
            await reconnect();
            header();
            navigate("/orders");
          } catch (error) {
            replace(feedback, notice("error", error.message));
          }
        });
      },
    },
    h("div.field", h("label", { for: "staff-email" }, t("staff.email")), h("input#staff-email", { type: "email", name: "email", autocomplete: "username", required: true })),
    h("div.field", h("label", { for: "staff-password" }, t("staff.password")), h("input#staff-password", { type: "password", name: "password", autocomplete: "current-password", required: true })),
    submit,
  );
  return h("section.screen-staff-sign-in", { style: "max-width: 460px; margin: 0 auto" }, heading(t("staff.signInTitle")), feedback, form);
}

// ---- orders ---------------------------------------------------------------------------

function orderCard(order, refresh) {
  const feedback = h("div", { "aria-live": "polite" });
  const run = (kind) => async (event) => {
    const button = event.currentTarget;
    await busy(button, async () => {
      replace(feedback);
      try {
        payload((await gql(action(ACTIONS[kind].field), { input: { orderId: order.id } }))[ACTIONS[kind].field]);
        await refresh();
      } catch (error) {
        replace(feedback, notice("error", error.message));
      }
    });
  };
  const buttons = [];
  if (order.status === "PLACED" && order.fulfilment === "CLICK_AND_COLLECT") buttons.push(h("button.button.button-primary.button-small", { type: "button", onclick: run("ready") }, t(ACTIONS.ready.label)));
  if (order.status === "READY_FOR_PICKUP") buttons.push(h("button.button.button-primary.button-small", { type: "button", onclick: run("collected") }, t(ACTIONS.collected.label)));
  if (order.status === "PLACED" || order.status === "READY_FOR_PICKUP") buttons.push(h("button.button.button-danger.button-small", { type: "button", onclick: run("cancel") }, t(ACTIONS.cancel.label)));
  const customer = order.customer ? [order.customer.name, order.customer.phone || order.customer.email].filter(Boolean).join(" · ") : t("staff.guest");
  const how = order.fulfilment === "DELIVERY" ? t("staff.delivery") : t("staff.collect");
  return h(
    "li.order-card",
    { "data-order-number": order.number, "data-status": order.status, "data-fulfilment": order.fulfilment },
    h("header", h("span.order-number", order.number), h("span.status-pill", { "data-status": order.status }, statusText(order.status))),
    h("div.small", `${dateTime(order.createdAt)} · ${how} · ${customer}`),
    order.fulfilment === "DELIVERY" && order.deliveryAddress ? h("div.small", t("staff.deliverTo", { address: order.deliveryAddress })) : null,
    h("ul", order.lines.map((line) => h("li", t("staff.line", { quantity: line.quantity, name: line.name })))),
    h("div", h("strong", money(order.total)), " · ", t("staff.items", { count: order.totalQuantity })),
    buttons.length ? h("div.actions", buttons) : null,
    feedback,
  );
}

async function ordersScreen(_params, query) {
  const group = STATUS_GROUPS.find((g) => g.key === query.get("status")) ?? STATUS_GROUPS[0];
  const list = h("ul.order-cards", { "data-testid": "staff-orders", "aria-live": "polite" });
  const feedback = h("div");
  const filter = h(
    "div.status-filter",
    { role: "group", "aria-label": t("staff.status") },
    STATUS_GROUPS.map((g) => h("button.button.button-small", { type: "button", "aria-pressed": String(g === group), onclick: () => navigate(`/orders?status=${g.key}`) }, t(g.label))),
  );
  // A looked-up order is shown instead of the list (one card per order on screen), until
  // "Show all orders"; both refresh while the screen is open.
  let lookedUp = null;
  // The timer's refresh and the staff's own lookups overlap: only the newest one draws, so an
  // answer that was asked for before a lookup cannot put the whole list back over it.
  let asked = 0;
  async function refresh() {
    const mine = ++asked;
    try {
      if (lookedUp) return await showLookedUp(mine);
      const { storeOrders } = await gql(STORE_ORDERS, { storeId: storeId(), status: group.status, first: 50 });
      if (mine !== asked) return;
      const orders = storeOrders.edges.map((e) => e.node);
      filter.hidden = false;
      replace(list, orders.length ? orders.map((o) => orderCard(o, refresh)) : h("li", notice("info", t(group.empty))));
      replace(feedback);
    } catch (error) {
      if (mine !== asked) return;
      replace(feedback, notice("error", isUnsupported(error) ? t("staff.ordersUnsupported") : error.message));
    }
  }
  async function showLookedUp(mine) {
    const { orderByNumber } = await gql(ORDER_BY_NUMBER, { number: lookedUp });
    if (mine !== asked) return;
    const all = h("button.button.button-small", { type: "button", onclick: () => showAll() }, t("staff.showAll"));
    filter.hidden = true;
    replace(feedback, orderByNumber ? h("p", t("staff.found", { number: orderByNumber.number }), " ", all) : h("div", notice("info", t("staff.notFound", { number: lookedUp })), all));
    replace(list, orderByNumber ? orderCard(orderByNumber, refresh) : null);
  }
  function showAll() {
    lookedUp = null;
    lookup.value = "";
    return refresh();
  }
  const lookup = h("input#order-number", { type: "text", autocomplete: "off", placeholder: t("staff.lookupPlaceholder") });
  const lookupForm = h(
    "form.input-row",
    {
      role: "search",
      onsubmit: (event) => {
        event.preventDefault();
        lookedUp = lookup.value.trim() || null;
        refresh();
      },
    },
    h("label.visually-hidden", { for: "order-number" }, t("staff.orderNumber")),
    lookup,
    h("button.button", { type: "submit" }, t("staff.find")),
  );
  await refresh();
  // No store-wide subscription: refresh while the screen is open.
  const timer = setInterval(refresh, REFRESH_MS);
  return {
    node: h(
      "section.screen-staff-orders",
      heading(t("staff.ordersTitle")),
      lookupForm,
      filter,
      feedback,
      list,
    ),
    cleanup: () => clearInterval(timer),
  };
}

// ---- customers ------------------------------------------------------------------------

function customerCard(record) {
  const c = record.customer;
  return h(
    "article.customer-card",
    h("h2", c.name || c.email),
    h("p", [c.email, c.phone].filter(Boolean).join(" · ")),
    record.cart?.lines?.length
      ? h("p", t("staff.openCart", { count: record.cart.totalQuantity, subtotal: money(record.cart.subtotal) }), " ", record.cart.lines.map((l) => t("staff.line", { quantity: l.quantity, name: l.product.name })).join(", "))
      : h("p.small", t("staff.noCart")),
    record.orders.edges.length
      ? h("ul", record.orders.edges.map(({ node }) => h("li", `${node.number} · ${statusText(node.status)} · ${money(node.total)}`)))
      : h("p.small", t("staff.noOrders")),
    record.purchaseHistory.length ? h("p.small", t("staff.buys"), " ", record.purchaseHistory.slice(0, 5).map((p) => `${p.name} (${p.units})`).join(", ")) : null,
  );
}

async function customersScreen(_params, query) {
  if (!isPerson()) return h("section", heading(t("staff.customersTitle")), notice("info", t("staff.customersNeedPerson")));
  const input = h("input#customer-query", { type: "search", value: query.get("q") || "", autocomplete: "off", minlength: "2" });
  const results = h("div", { "aria-live": "polite" });
  const form = h(
    "form.input-row",
    {
      role: "search",
      onsubmit: async (event) => {
        event.preventDefault();
        history.replaceState(null, "", `#/customers?q=${encodeURIComponent(input.value)}`);
        replace(results, h("p.loading", t("staff.searching")));
        try {
          const { customerSearch } = await gql(CUSTOMER_SEARCH, { query: input.value.trim() });
          replace(results, customerSearch.length ? customerSearch.map(customerCard) : notice("info", t("staff.noCustomer")));
        } catch (error) {
          replace(results, notice("error", error.message));
        }
      },
    },
    input,
    h("button.button.button-primary", { type: "submit" }, t("staff.search")),
  );
  if (input.value) queueMicrotask(() => form.requestSubmit());
  return h(
    "section.screen-staff-customers",
    heading(t("staff.customersTitle")),
    h("label", { for: "customer-query" }, t("staff.customerQuery")),
    h("p.help", t("staff.audited")),
    form,
    results,
  );
}

// ---- scan analytics -------------------------------------------------------------------

const PERIODS = [
  ["1", "staff.period.day"],
  ["7", "staff.period.week"],
  ["30", "staff.period.month"],
];

async function analyticsScreen(_params, query) {
  if (!isPerson()) return h("section", heading(t("staff.analyticsTitle")), notice("info", t("staff.reportsNeedPerson")));
  const days = PERIODS.some(([d]) => d === query.get("days")) ? query.get("days") : "7";
  const since = new Date(Date.now() - Number(days) * 86_400_000).toISOString();
  let report;
  try {
    report = (await gql(SCAN_REPORT, { storeId: storeId(), since })).scanReport;
  } catch (error) {
    return h("section", heading(t("staff.analyticsTitle")), notice("error", isUnsupported(error) ? t("staff.reportsUnsupported") : error.message));
  }
  const period = h(
    "select#report-period",
    { onchange: (event) => navigate(`/analytics?days=${event.target.value}`) },
    PERIODS.map(([value, label]) => h("option", { value, selected: value === days ? "" : null }, t(label))),
  );
  return h(
    "section.screen-staff-analytics",
    heading(t("staff.analyticsTitle")),
    h("div.input-row", { style: "align-items: center" }, h("label", { for: "report-period", style: "margin: 0" }, t("staff.period")), period),
    h(
      "div.report-stats",
      { "data-testid": "report-stats" },
      stat(t("staff.stat.scans"), number(report.totalScans)),
      stat(t("staff.stat.ledToCart"), number(report.ledToCart)),
      stat(t("staff.stat.conversion"), number(report.conversionRate, { style: "percent" })),
      stat(t("staff.stat.outOfStock"), number(report.outOfStockScans)),
      stat(t("staff.stat.unknown"), number(report.unknownScans)),
    ),
    h(
      "div.charts",
      barChart(t("staff.chart.top"), report.topProducts.map((p) => ({ label: p.name, value: p.scans, detail: t("staff.chart.toCart", { count: p.ledToCart }) }))),
      barChart(t("staff.chart.missed"), report.missedDemand.map((p) => ({ label: p.name, value: p.outOfStockScans, detail: t("staff.chart.scans", { count: p.scans }) })), { color: "#a4231b" }),
    ),
    report.unknownCodes.length
      ? h("section", h("h2", t("staff.unknownTitle")), h("table", h("thead", h("tr", h("th", t("staff.code")), h("th.num", t("staff.scans")))), h("tbody", report.unknownCodes.map((c) => h("tr", h("td", c.code), h("td.num", String(c.scans)))))))
      : null,
  );
}

// ---- boot -----------------------------------------------------------------------------

function guard(screen) {
  return (params, query) => (session.get("authToken") ? screen(params, query) : signInScreen());
}

async function provisionFromLink() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const token = params.get("device");
  if (!token) return;
  history.replaceState(null, "", location.pathname + "#/orders");
  session.set({ authToken: token, staff: null });
  const code = params.get("store");
  if (code) {
    const store = (await gql(STORES)).stores.find((s) => s.code === code);
    if (store) session.set({ store });
  }
}

async function refreshMe() {
  if (!session.get("authToken") || !staff()) return;
  try {
    const { staffMe } = await gql(STAFF_ME);
    if (staffMe) session.set({ staff: staffMe, store: staffMe.store });
    else session.set({ authToken: null, staff: null });
  } catch {
    // offline: keep what we know
  }
}

route("/", () => {
  navigate(session.get("authToken") ? "/orders" : "/sign-in", { replace: true });
  return h("p.loading", t("staff.loading"));
});
route("/sign-in", signInScreen);
route("/orders", guard(ordersScreen));
route("/customers", guard(customersScreen));
route("/analytics", guard(analyticsScreen));

document.addEventListener("routechange", () => {
  const { path } = current();
  for (const tab of tabs.querySelectorAll("a")) {
    if (path.startsWith("/" + tab.dataset.tab)) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
});

/** The page's own texts (staff.html), in the current language. */
function localisePage() {
  document.title = t("staff.pageTitle");
  for (const tab of tabs.querySelectorAll("a")) tab.textContent = t(`staff.tab.${tab.dataset.tab}`);
  tabs.setAttribute("aria-label", t("staff.tabs"));
  document.querySelector(".skip-link").textContent = t("staff.skip");
  localiseCredit(document.querySelector(".data-credit"));
}

localisePage();
setUpPwa(document.getElementById("banners"));
provisionFromLink()
  .catch((error) => console.warn("provisioning failed:", error))
  .then(refreshMe)
  .finally(() => {
    header();
    start(document.getElementById("view"));
  });
