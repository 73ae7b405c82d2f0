// The in-store order station (/kiosk): a portrait touch screen. A shopper types or scans
// the handoff code their phone shows, sees their cart with what is on the shelf here and
// what must be ordered, orders the rest for collection here, and gets a receipt. It
// starts over by itself after a while without a touch.
//
// The device signs in with a kiosk token (`omnicart device add --kind kiosk`), given once
// through the setup form or a provisioning link: /kiosk#device=dv_…&store=OSL-STORO.

import { gql, isUnsupported, payload } from "../api.js";
import * as cartState from "../cart-state.js";
import { code128Svg } from "../code128.js";
import { busy, h, heading, notice, priceBlock, productImage, replace } from "../dom.js";
import { PRODUCT_CARD } from "../fragments.js";
import { reconnect } from "../live.js";
import { setUpPwa } from "../pwa.js";
import { createScanner } from "../scanner.js";
import * as session from "../session.js";

session.useApp("kiosk");

// Seconds without a touch before "Are you still there?", and of its countdown; a kiosk's
// URL may set others (/kiosk?idle=120&warn=20).
const settings = new URLSearchParams(location.search);
const IDLE_MS = Number(settings.get("idle") || 90) * 1000;
const WARNING_S = Number(settings.get("warn") || 15);
// The handoff alphabet: no 0, 1, I, L, O or U.
const CODE_KEYS = "ABCDEFGHJKMNPQRSTVWXYZ23456789".split("");

const KIOSK_CART = `
  id version totalQuantity updatedAt
  subtotal { amount currency formatted }
  customer { id name email }
  lines {
    id quantity
    unitPrice { amount currency formatted }
    lineTotal { amount currency formatted }
    product { ${PRODUCT_CARD} }
    fulfilmentOptions(storeId: $storeId) {
      availableHere onShelfHere collectHere delivery availableOnline recommended
      collectAt { id name }
    }
  }`;
const STORES = `query Stores { stores { id code name address city } }`;
const CLAIM = `mutation CartHandoffClaim($input: CartHandoffClaimInput!, $storeId: ID!) {
  cartHandoffClaim(input: $input) { cart { ${KIOSK_CART} } errors { code field message } }
}`;
const ORDER_FIELDS = `id number status fulfilment createdAt deliveryAddress
  pickupStore { id name }
  total { formatted }
  lines { name gtin quantity lineTotal { formatted } }`;
const CHECKOUT = `mutation Checkout($input: CheckoutInput!) {
  checkout(input: $input) {
    order { ${ORDER_FIELDS} }
    unavailableLines { lineId requested available }
    errors { code field message }
  }
}`;

const view = document.getElementById("view");
let screen = "start";

function show(name, ...content) {
  screen = name;
  replace(view, ...content);
  (view.querySelector("[data-focus]") || view).focus({ preventScroll: true });
}

// ---- set-up -------------------------------------------------------------------------

async function provisionFromLink() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const token = params.get("device");
  if (!token) return;
  const storeCode = params.get("store");
  history.replaceState(null, "", location.pathname + location.search); // keep the token out of history
  session.set({ authToken: token });
  if (storeCode) {
    const { stores } = await gql(STORES);
    const store = stores.find((s) => s.code === storeCode);
    if (store) session.set({ store: { id: store.id, name: store.name, code: store.code } });
  }
}

async function renderSetup(message) {
  let stores = [];
  try {
    stores = (await gql(STORES)).stores;
  } catch (error) {
    message = error.message;
  }
  const form = h(
    "form.account-form",
    {
      onsubmit: async (event) => {
        event.preventDefault();
        const data = new FormData(form);
        const store = stores.find((s) => s.id === data.get("store"));
        session.set({ authToken: String(data.get("token")).trim(), store: { id: store.id, name: store.name, code: store.code } });
        await reconnect();
        start();
      },
    },
    h("div.field", h("label", { for: "device-token" }, "Device token"), h("input#device-token", { type: "text", name: "token", required: true, autocomplete: "off", spellcheck: "false" })),
    h("div.field", h("label", { for: "device-store" }, "Store"), h("select#device-store", { name: "store", required: true }, stores.map((s) => h("option", { value: s.id }, s.name)))),
    h("button.button.button-primary.button-large", { type: "submit" }, "Start the order station"),
  );
  show("setup", heading("Set up this order station"), h("p.lede", "Staff: run `omnicart device add --kind kiosk --store CODE` and enter the token it prints."), message ? notice("error", message) : null, form);
}

// ---- start: enter or scan a handoff code --------------------------------------------

function renderStart(message = null) {
  cartState.forget();
  const input = h("input#handoff-code", {
    type: "text",
    autocomplete: "off",
    autocapitalize: "characters",
    spellcheck: "false",
    maxlength: "12",
    "aria-describedby": "code-help",
    "data-testid": "kiosk-code",
  });
  const feedback = h("div", { "aria-live": "assertive" }, message ? notice("error", message) : null);
  const go = h("button.key-go.key-wide", { type: "submit" }, "Open cart");
  const form = h(
    "form",
    {
      onsubmit: (event) => {
        event.preventDefault();
        busy(go, () => claim(input.value, feedback));
      },
    },
    h("label", { for: "handoff-code" }, "Code from your phone"),
    h("p#code-help.help", "On your phone: Cart → Continue at the kiosk. Type the code, or scan it below."),
    input,
    h(
      "div.keypad",
      { role: "group", "aria-label": "Keyboard" },
      CODE_KEYS.map((key) => h("button", { type: "button", onclick: () => { input.value += key; input.focus(); } }, key)),
      h("button.key-wide", { type: "button", "aria-label": "Delete the last character", onclick: () => { input.value = input.value.slice(0, -1); input.focus(); } }, "⌫ Delete"),
      h("button.key-wide", { type: "button", onclick: () => { input.value = ""; input.focus(); } }, "Clear"),
      go,
    ),
  );
  let scanner = null;
  const cameraBox = h("div.kiosk-camera");
  const camera = h(
    "button.button.button-large.button-block",
    {
      type: "button",
      onclick: () => {
        camera.hidden = true;
        scanner = createScanner({
          formats: ["code_128", "qr_code"],
          facingMode: "user",
          accept: (raw) => (/^[A-Za-z0-9-]{6,12}$/.test(raw.trim()) ? raw.trim() : null),
          onCode: (code) => {
            scanner.stop();
            input.value = code;
            claim(code, feedback);
          },
        });
        cameraBox.append(scanner.node);
        scanner.start();
      },
    },
    "Scan the code with the camera",
  );
  show(
    "start",
    h("section.kiosk-start", heading("Continue your shopping here"), h("p.lede", "Pick up the cart from your phone: see what is on the shelf in this store, and order the rest."), feedback, form, camera, cameraBox),
  );
  stopCamera = () => scanner?.stop();
  input.focus();
}

let stopCamera = () => {};

async function claim(code, feedback) {
  replace(feedback);
  const cleaned = code.trim();
  if (!cleaned) {
    replace(feedback, notice("error", "Type the code your phone shows."));
    return;
  }
  try {
    const result = payload((await gql(CLAIM, { input: { code: cleaned }, storeId: session.store().id })).cartHandoffClaim);
    stopCamera();
    await cartState.adopt(result.cart);
    renderCart();
  } catch (error) {
    const text =
      error.code === "CODE_EXPIRED"
        ? "That code does not work: it may be mistyped, used or expired. Make a new one on your phone."
        : error.code === "UNAUTHORIZED"
          ? "This order station is not signed in. Ask staff to set it up again."
          : error.message;
    replace(feedback, notice("error", text));
  }
}

// ---- the claimed cart ---------------------------------------------------------------

/** Where a line comes from, seen from this store: the shelf, an order, or nowhere. */
function whereFrom(line) {
  const options = line.fulfilmentOptions;
  if (options.onShelfHere) return "shelf";
  return options.recommended === "UNAVAILABLE" ? "none" : "order";
}

const WHERE_TEXT = { shelf: "On the shelf here", order: "Order", none: "Sold out", short: "Not enough" };

/** The label of a line: "Sold out" only when no unit is anywhere, else "Not enough" for the quantity. */
function whereText(line, where) {
  const options = line.fulfilmentOptions;
  return where === "none" && (options.availableHere > 0 || options.availableOnline > 0) ? WHERE_TEXT.short : WHERE_TEXT[where];
}

function orderNote(line) {
  const options = line.fulfilmentOptions;
  if (options.onShelfHere) return `${options.availableHere} on the shelf`;
  if (options.recommended === "DELIVERY") return "Home delivery";
  if (options.recommended === "COLLECT_ELSEWHERE") return `Collect at ${options.collectAt[0]?.name}`;
  if (options.availableHere > 0 || options.availableOnline > 0) {
    return `Not ${line.quantity} in one place: ${options.availableHere} here, ${options.availableOnline} online`;
  }
  return "Not available anywhere now";
}

function linesToOrder(cart) {
  return cart.lines.map((line) => ({ line, where: whereFrom(line) })).filter((l) => l.where === "order");
}

function renderCart() {
  const body = h("div", { "aria-live": "polite" });
  const feedback = h("div", { "aria-live": "assertive" });
  // Built once: live cart updates redraw the lines, not a half-filled order form.
  const orderPanel = h("div.order-panel", { "aria-live": "polite" });
  const orderButton = h(
    "button.button.button-primary.button-large",
    { type: "button", "data-testid": "kiosk-order-rest", onclick: () => renderOrderChoice(orderPanel) },
  );
  const stop = cartState.onCart((cart) => {
    if (!cart) return;
    const lines = cart.lines.map((line) => ({ line, where: whereFrom(line) }));
    const toOrder = lines.filter((l) => l.where === "order");
    const onShelf = lines.filter((l) => l.where === "shelf");
    orderButton.disabled = toOrder.length === 0;
    orderButton.textContent = toOrder.length
      ? `Order the ${toOrder.length === 1 ? "item" : `${toOrder.length} items`} not on the shelf here`
      : "Everything is on the shelf here";
    if (!toOrder.length) replace(orderPanel);
    replace(
      body,
      cart.lines.length === 0 ? notice("info", "This cart is empty.") : null,
      h(
        "ul.kiosk-lines",
        { "data-testid": "kiosk-lines" },
        lines.map(({ line, where }) =>
          h(
            "li.kiosk-line",
            { "data-gtin": line.product.gtin, "data-where": where },
            productImage(line.product.imageUrl, "", "sm"),
            h("div", h("div.card-title", `${line.quantity} × ${line.product.name}`), h("div.small", [line.product.brand, orderNote(line)].filter(Boolean).join(" · ")), priceBlock(line.product.price)),
            h(`span.where.where-${where}`, { "data-testid": "kiosk-where" }, whereText(line, where)),
          ),
        ),
      ),
      h(
        "div.kiosk-summary",
        h("div", h("span", "On the shelf here: pick these up in the store"), h("strong", String(onShelf.reduce((n, l) => n + l.line.quantity, 0)))),
        h("div", h("span", "To order"), h("strong", String(toOrder.reduce((n, l) => n + l.line.quantity, 0)))),
        h("div", h("span", "Cart total"), h("strong", cart.subtotal.formatted)),
      ),
    );
  });
  show(
    "cart",
    h(
      "section",
      heading("Your cart"),
      feedback,
      body,
      h("div.kiosk-actions", orderButton, orderPanel, h("button.button.button-large", { type: "button", onclick: reset }, "Done — start over")),
    ),
  );
  cleanupScreen = stop;
}

let cleanupScreen = () => {};

/** How the lines not on the shelf can be ordered together: delivery, or collect at a store. */
function orderChoices(toOrder) {
  const choices = [];
  if (toOrder.every((l) => l.line.fulfilmentOptions.delivery)) choices.push({ kind: "delivery", label: "Home delivery" });
  const [first, ...rest] = toOrder.map((l) => l.line.fulfilmentOptions.collectAt);
  for (const store of first ?? []) {
    if (rest.every((stores) => stores.some((s) => s.id === store.id))) choices.push({ kind: "collect", store, label: `Collect at ${store.name}` });
  }
  return choices;
}

function renderOrderChoice(panel) {
  const choices = orderChoices(linesToOrder(cartState.currentCart()));
  if (!choices.length) {
    replace(panel, notice("error", "These items cannot be ordered together. Ask staff for help."));
    return;
  }
  const feedback = h("div", { "aria-live": "assertive" });
  const address = h("textarea#delivery-address", { name: "address", rows: "3", autocomplete: "street-address" });
  const form = h(
    "form.order-choice",
    {
      onsubmit: (event) => {
        event.preventDefault();
        const picked = choices[Number(new FormData(form).get("how"))];
        busy(submit, () => orderRest(picked, address.value.trim(), feedback));
      },
    },
    h(
      "fieldset",
      h("legend", "How do you want them?"),
      choices.map((choice, i) => h("label.choice", h("input", { type: "radio", name: "how", value: String(i), checked: i === 0, required: true }), choice.label)),
    ),
    choices.some((c) => c.kind === "delivery") ? h("div.field", h("label", { for: "delivery-address" }, "Delivery address (for home delivery)"), address) : null,
    feedback,
  );
  const submit = h("button.button.button-primary.button-large", { type: "submit", "data-testid": "kiosk-place-order" }, "Place the order");
  form.append(submit);
  replace(panel, form);
  form.querySelector("input")?.focus();
}

async function orderRest(choice, address, feedback) {
  replace(feedback);
  // The newest cart: the phone may have changed it while the form was open.
  const cart = cartState.currentCart();
  const toOrder = linesToOrder(cart);
  if (choice.kind === "delivery" && !address) {
    replace(feedback, notice("error", "Type the address to deliver to."));
    return;
  }
  try {
    const result = payload(
      (
        await gql(CHECKOUT, {
          input: {
            cartId: cart.id,
            expectedVersion: cart.version,
            lineIds: toOrder.map((l) => l.line.id),
            fulfilment: choice.kind === "delivery" ? { delivery: { address } } : { clickAndCollect: { storeId: choice.store.id } },
          },
        })
      ).checkout,
    );
    renderReceipt(result.order);
  } catch (error) {
    const text = error.code === "VERSION_CONFLICT" ? "The cart changed on the phone just now: check it and try again." : isUnsupported(error) ? "Ordering from the order station is not available yet." : error.message;
    replace(feedback, notice("error", text));
  }
}

function renderReceipt(order) {
  cleanupScreen();
  cleanupScreen = () => {};
  cartState.forget();
  const how = order.fulfilment === "DELIVERY" ? `Home delivery to ${order.deliveryAddress}.` : `Click and collect at ${order.pickupStore?.name}. We tell you when it is ready.`;
  show(
    "receipt",
    h(
      "section",
      heading("Thank you! Your order is placed"),
      h(
        "div.receipt",
        { "data-testid": "receipt" },
        h("h2", "Order ", h("span", { "data-testid": "order-number" }, order.number)),
        h("p", how),
        code128Svg(order.number),
        h(
          "table",
          h("thead", h("tr", h("th", "Item"), h("th.num", "Qty"), h("th.num", "Total"))),
          h("tbody", order.lines.map((line) => h("tr", h("td", line.name), h("td.num", String(line.quantity)), h("td.num", line.lineTotal.formatted)))),
        ),
        h("p.cart-summary", h("span", "Total"), h("strong", order.total.formatted)),
        h("p.small", `${session.store().name} · ${new Date(order.createdAt).toLocaleString()}`),
        h("p.small", "What was on the shelf stays in your cart on your phone: pick it up and pay at the till."),
      ),
      h("div.kiosk-actions.no-print", h("button.button.button-large", { type: "button", onclick: () => print() }, "Print receipt"), h("button.button.button-primary.button-large", { type: "button", onclick: reset }, "Done")),
    ),
  );
}

// ---- starting over after inactivity -------------------------------------------------

const idle = document.getElementById("idle");
let idleTimer = null;
let warningTimer = null;

function reset() {
  cleanupScreen();
  cleanupScreen = () => {};
  stopCamera();
  idle.hidden = true;
  clearInterval(warningTimer);
  renderStart();
}

function armIdle() {
  clearTimeout(idleTimer);
  if (!idle.hidden) return;
  idleTimer = setTimeout(() => {
    if (screen === "start" || screen === "setup") {
      // Nothing to hide; just clear a half-typed code.
      if (screen === "start") renderStart();
      return armIdle();
    }
    let seconds = WARNING_S;
    idle.hidden = false;
    document.getElementById("idle-seconds").textContent = String(seconds);
    document.getElementById("idle-stay").focus();
    warningTimer = setInterval(() => {
      seconds -= 1;
      document.getElementById("idle-seconds").textContent = String(seconds);
      if (seconds <= 0) {
        reset();
        armIdle();
      }
    }, 1000);
  }, IDLE_MS);
}

document.getElementById("idle-stay").addEventListener("click", () => {
  idle.hidden = true;
  clearInterval(warningTimer);
  armIdle();
});
for (const type of ["pointerdown", "keydown", "input"]) addEventListener(type, armIdle, { passive: true });

// ---- boot ---------------------------------------------------------------------------

async function start() {
  const store = session.store();
  document.getElementById("kiosk-store").textContent = store ? store.name : "";
  if (!session.get("authToken") || !store) return renderSetup();
  // Live cart views include this store's stock.
  cartState.configure({ cartFields: KIOSK_CART, definitions: ", $storeId: ID!", variables: { storeId: store.id } });
  renderStart();
  armIdle();
}

setUpPwa(document.getElementById("banners"));
provisionFromLink()
  .catch((error) => console.warn("provisioning failed:", error))
  .finally(start);
