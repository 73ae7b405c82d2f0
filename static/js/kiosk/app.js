// The in-store order station (/kiosk): a portrait touch screen. A shopper types or scans
// the handoff code their phone shows, sees their cart with what is on the shelf here and
// what must be ordered, orders the rest for collection here, and gets a receipt. It
// starts over by itself after a while without a touch.
//
// The device signs in with a kiosk token (`omnicart device add --kind kiosk`), given once
// through the setup form or a provisioning link: /kiosk#device=dv_…. The token is checked
// against the server (`thisDevice`), and the store is the one the device belongs to.

import { gql, isUnsupported, payload } from "../api.js";
import * as cartState from "../cart-state.js";
import { code128Svg } from "../code128.js";
import { localiseCredit } from "../credit.js";
import { busy, h, heading, notice, replace } from "../dom.js";
import { PRODUCT_CARD } from "../fragments.js";
import { addMessages, dateTime, money, t } from "../i18n.js";
import { reconnect } from "../live.js";
import kioskEn from "../messages/kiosk.en.js";
import kioskNb from "../messages/kiosk.nb.js";
import { setUpPwa } from "../pwa.js";
import { createScanner } from "../scanner.js";
import * as session from "../session.js";
import { priceView, productPicture } from "../product-view.js";

session.useApp("kiosk");
addMessages({ en: kioskEn, nb: kioskNb });

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
const THIS_DEVICE = `query ThisDevice { thisDevice { kind name store { id code name } } }`;
const CLAIM = `mutation CartHandoffClaim($input: CartHandoffClaimInput!, $storeId: ID!) {
  cartHandoffClaim(input: $input) { cart { ${KIOSK_CART} } errors { code field message } }
}`;
const ORDER_FIELDS = `id number status fulfilment createdAt deliveryAddress
  pickupStore { id name }
  total { amount currency formatted }
  lines { name gtin quantity lineTotal { amount currency formatted } }`;
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

/**
 * Sign in with `token` if the server knows it as a kiosk: keep it and the device's store.
 * Returns null when it did, else why not (the token is then forgotten). Offline (or the
 * server unreachable) it throws, and nothing is changed.
 */
async function signInDevice(token) {
  const previous = { authToken: session.get("authToken"), store: session.store() };
  session.set({ authToken: token });
  let device;
  try {
    device = (await gql(THIS_DEVICE)).thisDevice;
  } catch (error) {
    session.set(previous);
    throw error;
  }
  if (!device || device.kind !== "kiosk") {
    session.set({ authToken: null, store: null });
    return device ? t("kiosk.setup.notKiosk", { kind: device.kind }) : t("kiosk.setup.unknownToken");
  }
  session.set({ store: { id: device.store.id, name: device.store.name, code: device.store.code } });
  await reconnect();
  return null;
}

let setupMessage = null;

async function provisionFromLink() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const token = params.get("device");
  if (!token) return;
  history.replaceState(null, "", location.pathname + location.search); // keep the token out of history
  setupMessage = await signInDevice(token);
}

function renderSetup(message = null) {
  const feedback = h("div", { "aria-live": "assertive" }, message ? notice("error", message) : null);
  const input = h("input#device-token", { type: "text", name: "token", required: true, autocomplete: "off", spellcheck: "false", "data-focus": "" });
  const submit = h("button.button.button-primary.button-large", { type: "submit" }, t("kiosk.setup.start"));
  const form = h(
    "form.account-form",
    {
      onsubmit: (event) => {
        event.preventDefault();
        busy(submit, async () => {
          replace(feedback, h("p.loading", t("kiosk.setup.checking")));
          try {
            const why = await signInDevice(input.value.trim());
            if (why) return replace(feedback, notice("error", why));
          } catch (error) {
            return replace(feedback, notice("error", error.code === "OFFLINE" ? t("kiosk.setup.offline") : error.message));
          }
          start();
        });
      },
    },
    h("div.field", h("label", { for: "device-token" }, t("kiosk.setup.token")), input),
    feedback,
    submit,
  );
  show("setup", heading(t("kiosk.setup.title")), h("p.lede", t("kiosk.setup.lede")), form);
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
  const go = h("button.key-go.key-wide", { type: "submit" }, t("kiosk.open"));
  const form = h(
    "form",
    {
      onsubmit: (event) => {
        event.preventDefault();
        busy(go, () => claim(input.value, feedback));
      },
    },
    h("label", { for: "handoff-code" }, t("kiosk.codeLabel")),
    h("p#code-help.help", t("kiosk.codeHelp")),
    input,
    h(
      "div.keypad",
      { role: "group", "aria-label": t("kiosk.keyboard") },
      CODE_KEYS.map((key) => h("button", { type: "button", onclick: () => { input.value += key; input.focus(); } }, key)),
      h("button.key-wide", { type: "button", "aria-label": t("kiosk.deleteLabel"), onclick: () => { input.value = input.value.slice(0, -1); input.focus(); } }, t("kiosk.delete")),
      h("button.key-wide", { type: "button", onclick: () => { input.value = ""; input.focus(); } }, t("kiosk.clear")),
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
          onError: (_error, message) => {
            // No viewfinder without a camera: say why and put the cursor in the code field.
            scanner.node.remove();
            replace(feedback, notice("error", message));
            camera.hidden = false;
            input.focus();
          },
        });
        cameraBox.append(scanner.node);
        scanner.start();
      },
    },
    t("kiosk.camera"),
  );
  show(
    "start",
    h("section.kiosk-start", heading(t("kiosk.startTitle")), h("p.lede", t("kiosk.startLede")), feedback, form, camera, cameraBox),
  );
  stopCamera = () => scanner?.stop();
  input.focus();
}

let stopCamera = () => {};

async function claim(code, feedback) {
  replace(feedback);
  const cleaned = code.trim();
  if (!cleaned) {
    replace(feedback, notice("error", t("kiosk.typeCode")));
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
        ? t("kiosk.codeExpired")
        : error.code === "UNAUTHORIZED"
          ? t("kiosk.notSignedIn")
          : error.code === "OFFLINE"
            ? t("kiosk.offline")
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

const WHERE_KEYS = { shelf: "kiosk.where.shelf", order: "kiosk.where.order", none: "kiosk.where.none", short: "kiosk.where.short" };

/** The label of a line: "Sold out" only when no unit is anywhere, else "Not enough" for the quantity. */
function whereText(line, where) {
  const options = line.fulfilmentOptions;
  return t(where === "none" && (options.availableHere > 0 || options.availableOnline > 0) ? WHERE_KEYS.short : WHERE_KEYS[where]);
}

function orderNote(line) {
  const options = line.fulfilmentOptions;
  if (options.onShelfHere) return t("kiosk.note.onShelf", { count: options.availableHere });
  if (options.recommended === "DELIVERY") return t("kiosk.note.delivery");
  if (options.recommended === "COLLECT_ELSEWHERE") return t("kiosk.note.collectAt", { store: options.collectAt[0]?.name });
  if (options.availableHere > 0 || options.availableOnline > 0) {
    return t("kiosk.note.split", { quantity: line.quantity, here: options.availableHere, online: options.availableOnline });
  }
  return t("kiosk.note.nowhere");
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
    orderButton.textContent = toOrder.length ? t("kiosk.orderRest", { count: toOrder.length }) : t("kiosk.allOnShelf");
    if (!toOrder.length) replace(orderPanel);
    replace(
      body,
      cart.lines.length === 0 ? notice("info", t("kiosk.empty")) : null,
      h(
        "ul.kiosk-lines",
        { "data-testid": "kiosk-lines" },
        lines.map(({ line, where }) =>
          h(
            "li.kiosk-line",
            { "data-gtin": line.product.gtin, "data-where": where },
            productPicture(line.product.imageUrl, "", "sm"),
            h("div", h("div.card-title", t("kiosk.line", { quantity: line.quantity, name: line.product.name })), h("div.small", [line.product.brand, orderNote(line)].filter(Boolean).join(" · ")), priceView(line.product.price)),
            h(`span.where.where-${where}`, { "data-testid": "kiosk-where" }, whereText(line, where)),
          ),
        ),
      ),
      h(
        "div.kiosk-summary",
        h("div", h("span", t("kiosk.summary.shelf")), h("strong", String(onShelf.reduce((n, l) => n + l.line.quantity, 0)))),
        h("div", h("span", t("kiosk.summary.toOrder")), h("strong", String(toOrder.reduce((n, l) => n + l.line.quantity, 0)))),
        h("div", h("span", t("kiosk.summary.total")), h("strong", money(cart.subtotal))),
      ),
    );
  });
  show(
    "cart",
    h(
      "section",
      heading(t("kiosk.cartTitle")),
      feedback,
      body,
      h("div.kiosk-actions", orderButton, orderPanel, h("button.button.button-large", { type: "button", onclick: reset }, t("kiosk.startOver"))),
    ),
  );
  cleanupScreen = stop;
}

let cleanupScreen = () => {};

/** How the lines not on the shelf can be ordered together: delivery, or collect at a store. */
function orderChoices(toOrder) {
  const choices = [];
  if (toOrder.every((l) => l.line.fulfilmentOptions.delivery)) choices.push({ kind: "delivery", label: t("kiosk.choice.delivery") });
  const [first, ...rest] = toOrder.map((l) => l.line.fulfilmentOptions.collectAt);
  for (const store of first ?? []) {
    if (rest.every((stores) => stores.some((s) => s.id === store.id))) choices.push({ kind: "collect", store, label: t("kiosk.choice.collect", { store: store.name }) });
  }
  return choices;
}

function renderOrderChoice(panel) {
  const choices = orderChoices(linesToOrder(cartState.currentCart()));
  if (!choices.length) {
    replace(panel, notice("error", t("kiosk.cannotTogether")));
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
      h("legend", t("kiosk.how")),
      choices.map((choice, i) => h("label.choice", h("input", { type: "radio", name: "how", value: String(i), checked: i === 0, required: true }), choice.label)),
    ),
    choices.some((c) => c.kind === "delivery") ? h("div.field", h("label", { for: "delivery-address" }, t("kiosk.address")), address) : null,
    feedback,
  );
  const submit = h("button.button.button-primary.button-large", { type: "submit", "data-testid": "kiosk-place-order" }, t("kiosk.place"));
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
    replace(feedback, notice("error", t("kiosk.typeAddress")));
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
    const text = error.code === "VERSION_CONFLICT" ? t("kiosk.conflict") : isUnsupported(error) ? t("kiosk.unsupported") : error.code === "OFFLINE" ? t("kiosk.offline") : error.message;
    replace(feedback, notice("error", text));
  }
}

function renderReceipt(order) {
  cleanupScreen();
  cleanupScreen = () => {};
  cartState.forget();
  const how = order.fulfilment === "DELIVERY" ? t("kiosk.receipt.delivery", { address: order.deliveryAddress }) : t("kiosk.receipt.collect", { store: order.pickupStore?.name });
  show(
    "receipt",
    h(
      "section",
      heading(t("kiosk.receipt.title")),
      h(
        "div.receipt",
        { "data-testid": "receipt" },
        h("h2", t("kiosk.receipt.order"), " ", h("span", { "data-testid": "order-number" }, order.number)),
        h("p", how),
        code128Svg(order.number),
        h(
          "table",
          h("thead", h("tr", h("th", t("kiosk.receipt.item")), h("th.num", t("kiosk.receipt.qty")), h("th.num", t("kiosk.receipt.total")))),
          h("tbody", order.lines.map((line) => h("tr", h("td", line.name), h("td.num", String(line.quantity)), h("td.num", money(line.lineTotal))))),
        ),
        h("p.cart-summary", h("span", t("kiosk.receipt.total")), h("strong", money(order.total))),
        h("p.small", `${session.store().name} · ${dateTime(order.createdAt)}`),
        h("p.small", t("kiosk.receipt.rest")),
      ),
      h("div.kiosk-actions.no-print", h("button.button.button-large", { type: "button", onclick: () => print() }, t("kiosk.receipt.print")), h("button.button.button-primary.button-large", { type: "button", onclick: reset }, t("kiosk.receipt.done"))),
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

/** The page's own texts (kiosk.html), in the current language. */
function localisePage() {
  document.title = t("kiosk.pageTitle");
  document.getElementById("idle-title").textContent = t("kiosk.idle.title");
  const seconds = h("strong#idle-seconds", String(WARNING_S));
  const [before, after] = t("kiosk.idle.text", { seconds: "\u0000" }).split("\u0000");
  replace(document.getElementById("idle-text"), before, seconds, after);
  document.getElementById("idle-stay").textContent = t("kiosk.idle.stay");
  localiseCredit(document.querySelector(".data-credit"));
}

/** A saved token the server no longer knows (revoked) leads back to the setup. */
async function checkSavedToken() {
  if (!session.get("authToken") || setupMessage) return;
  try {
    const { thisDevice } = await gql(THIS_DEVICE);
    if (thisDevice?.kind === "kiosk") {
      session.set({ store: { id: thisDevice.store.id, name: thisDevice.store.name, code: thisDevice.store.code } });
    } else {
      session.set({ authToken: null, store: null });
      setupMessage = t("kiosk.setup.revoked");
    }
  } catch {
    // Offline or the server unreachable: carry on with what this device knows.
  }
}

async function start() {
  const store = session.store();
  document.getElementById("kiosk-store").textContent = store ? store.name : "";
  if (!session.get("authToken") || !store) {
    const message = setupMessage;
    setupMessage = null;
    return renderSetup(message);
  }
  // Live cart views include this store's stock.
  cartState.configure({ cartFields: KIOSK_CART, definitions: ", $storeId: ID!", variables: { storeId: store.id } });
  renderStart();
  armIdle();
}

localisePage();
setUpPwa(document.getElementById("banners"));
provisionFromLink()
  .catch((error) => {
    setupMessage = error.code === "OFFLINE" ? t("kiosk.setup.offline") : error.message;
  })
  .then(checkSavedToken)
  .finally(start);
