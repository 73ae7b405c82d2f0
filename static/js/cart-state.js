// The cart on this device: the server is the truth, this module keeps the newest version
// it saw, follows `cartUpdated` so changes from other devices appear live, and sends
// changes with idempotency keys (a retried tap never adds twice).
//
// A guest cart is remembered as {id, token}; a signed-in customer's one cart as {id} (the
// session reaches it). The kiosk uses the same module for a cart it was handed.

import { ApiError, gql, idempotencyKey, isUnsupported, mutationsSettled, payload } from "./api.js";
import { CART } from "./fragments.js";
import { onLiveStatus, reconnect, subscribe } from "./live.js";
import { followProducts } from "./product-live.js";
import * as session from "./session.js";

// The selection of a cart and extra variables; the kiosk adds stock at its store.
let fields = CART;
let variableDefinitions = "";
let extraVariables = {};
const vars = () => (typeof extraVariables === "function" ? extraVariables() : extraVariables);

// The shopper follows a cart that closes elsewhere to the cart it has now; the kiosk does not.
let followClose = false;
const closedListeners = new Set();
let expectedClose = null;

/** Call `listener({previousId, cart})` when the followed cart closed elsewhere and this device moved on. */
export function onClosed(listener) {
  closedListeners.add(listener);
  return () => closedListeners.delete(listener);
}

/** Say that this device is closing its cart itself (a checkout): no "closed elsewhere" then. */
export function expectClose() {
  expectedClose = cart?.id ?? null;
}

/**
 * Ask for other cart fields (with extra variables, e.g. `, $storeId: ID`) everywhere;
 * `variables` may be a function, read at each request (the shopper's store may change).
 */
export function configure({ cartFields, definitions = "", variables = {}, followClosed = false }) {
  followClose = followClosed;
  fields = cartFields;
  variableDefinitions = definitions;
  extraVariables = variables;
}

const CART_QUERY = () => `query Cart($id: ID!${variableDefinitions}) { cart(id: $id) { ${fields} } }`;
const ME_CART = () => `query Me${variableDefinitions ? `(${variableDefinitions.slice(2)})` : ""} { me { id email name phone cart { ${fields} } } }`;
// scanRefs: this device's scans from before it had a cart count for the new one (scan reports).
const CREATE = () => `mutation CartCreate($input: CartCreateInput${variableDefinitions}) { cartCreate(input: $input) { cartToken cart { ${fields} } errors { code field message } } }`;
const change_ = (name, field, input) => `mutation ${name}($input: ${input}!${variableDefinitions}) {
  ${field}(input: $input) { cart { ${fields} } errors { code field message } }
}`;
const ADD = () => change_("CartLinesAdd", "cartLinesAdd", "CartLinesAddInput");
const UPDATE = () => change_("CartLinesUpdate", "cartLinesUpdate", "CartLinesUpdateInput");
const REMOVE = () => change_("CartLinesRemove", "cartLinesRemove", "CartLinesRemoveInput");
// `liveUpdates: false`: the server sent the cart but cannot follow changes right now.
const UPDATED = () => `subscription CartUpdated($cartId: ID!${variableDefinitions}) { cartUpdated(cartId: $cartId) { ${fields} liveUpdates } }`;

const listeners = new Set();
let cart = null;
let unsubscribe = null;
let liveCartId = null;
let live = false;
let connected = false;
// "Live" only once the subscription answered on this connection (not merely a socket up).
let subscribed = false;
let paused = false;

function emit() {
  for (const listener of listeners) listener(cart, { live, paused });
}

onLiveStatus((status) => {
  connected = status === "connected";
  if (!connected) subscribed = false;
  live = connected && subscribed && Boolean(liveCartId) && !paused;
  emit();
});

/** Call `listener(cart, {live, paused})` now and whenever the cart changes (here or elsewhere). */
export function onCart(listener) {
  listeners.add(listener);
  listener(cart, { live, paused });
  return () => listeners.delete(listener);
}

/** The newest cart seen, or null. */
export function currentCart() {
  return cart;
}

/** Take a newer version of the cart (never go back to an older one) and follow it live. */
export function accept(next) {
  if (!next) return;
  if (cart && cart.id === next.id && next.version < cart.version) return;
  cart = next;
  const saved = session.get("cart");
  if (!saved || saved.id !== next.id) session.set({ cart: { id: next.id } });
  emit();
  follow(next.id);
  followLines(next);
}

// The lines' products are followed too: a price or stock change (the kiosk's shelf/order
// split) reads the cart again, though the cart itself did not change.
let linesKey = null;
let stopLines = null;

function followLines(next) {
  const gtins = next.lines.map((line) => line.product.gtin).sort();
  const key = `${next.id}|${gtins.join(",")}`;
  if (key === linesKey) return;
  stopLines?.();
  linesKey = key;
  const storeId = vars().storeId ?? session.store()?.id ?? null;
  stopLines = gtins.length ? followProducts(gtins, storeId, () => refresh().catch(() => {})) : null;
}

/** Read the cart again (its lines' prices and stock may have changed) and show it. */
export async function refresh() {
  if (!cart) return null;
  const asked = cart.id;
  const data = await gql(CART_QUERY(), { id: asked, ...vars() });
  // This device moved to another cart meanwhile (a checkout closed this one): the answer is stale.
  if (data.cart && cart?.id === asked) accept(data.cart);
  return cart;
}

// A subscription the server could not serve just then (SERVICE_UNAVAILABLE, an internal
// error, too many requests) is asked for again, soon at first, then up to every 15 s, for as
// long as this device holds that cart; the others (NOT_FOUND, UNAUTHORIZED …) are final.
const PASSING = new Set(["SERVICE_UNAVAILABLE", "INTERNAL", "RATE_LIMITED", "ERROR"]);
let retryTimer = null;
let retries = 0; // of retryCartId: another cart starts again at the shortest wait
let retryCartId = null;

function followAgain(cartId) {
  clearTimeout(retryTimer);
  if (retryCartId !== cartId) retries = 0;
  retryCartId = cartId;
  const wait = Math.min(1000 * 2 ** retries, 15_000) * (0.5 + Math.random() / 2);
  retries += 1;
  retryTimer = setTimeout(() => {
    retryTimer = null;
    if (cart?.id === cartId && liveCartId === null) follow(cartId);
  }, wait);
}

function follow(cartId) {
  if (liveCartId === cartId) return;
  unsubscribe?.();
  clearTimeout(retryTimer);
  liveCartId = cartId;
  paused = false;
  subscribed = false;
  unsubscribe = subscribe(UPDATED(), { cartId, ...vars() }, {
    onData: (data) => {
      if (data.cartUpdated.id !== liveCartId) return;
      retries = 0;
      paused = data.cartUpdated.liveUpdates === false;
      subscribed = true;
      live = connected && !paused;
      accept(data.cartUpdated);
    },
    onError: (error) => {
      // NOT_FOUND: the cart left our reach (merged at sign-in, claim over, signed out).
      console.warn("cart updates stopped:", error.message);
      if (liveCartId === cartId) {
        liveCartId = null;
        live = false;
        emit();
        if (followClose && error.code === "NOT_FOUND" && cart?.id === cartId) moveOn(cartId);
        else if (PASSING.has(error.code ?? "ERROR")) followAgain(cartId);
      }
    },
  });
}

/** The followed cart closed (ordered, merged, signed out): load the one this device has now. */
async function moveOn(previousId) {
  await mutationsSettled();
  // This device moved on itself meanwhile (its checkout, sign-in or sign-out answered).
  if (cart?.id !== previousId) return;
  const expected = expectedClose === previousId;
  expectedClose = null;
  const next = await load().catch(() => null);
  if (!expected && next?.id !== previousId) {
    for (const listener of closedListeners) listener({ previousId, cart: next });
  }
}

function stopFollowing() {
  unsubscribe?.();
  clearTimeout(retryTimer);
  retryTimer = null;
  unsubscribe = null;
  liveCartId = null;
  live = false;
  stopLines?.();
  stopLines = null;
  linesKey = null;
}

/**
 * Load this device's cart: a signed-in customer's one cart, or the remembered guest cart
 * (offline: the copy the service worker saved). Returns it, or null if there is none.
 */
export async function load() {
  // A signed-in customer (a kiosk's device token is no customer: it only adopts carts).
  if (session.get("authToken") && session.get("customer")) {
    const { me } = await gql(ME_CART(), vars());
    if (!me) {
      // The session ended (expired or signed out elsewhere): back to being a guest.
      session.set({ authToken: null, customer: null, cart: null });
      await reconnect();
      return setNone();
    }
    session.set({ customer: { id: me.id, email: me.email, name: me.name, phone: me.phone } });
    if (me.cart) accept(me.cart);
    return me.cart ? cart : setNone();
  }
  const saved = session.get("cart");
  if (!saved?.id) return null;
  const data = await gql(CART_QUERY(), { id: saved.id, ...vars() });
  // This device moved to another cart meanwhile (its checkout answered, a new cart began):
  // the answer is about one it left, so it neither replaces nor forgets the current one.
  if (session.get("cart")?.id !== saved.id) return cart;
  if (!data.cart) {
    // Gone (checked out, or out of reach): start afresh next time.
    session.set({ cart: null });
    return setNone();
  }
  accept(data.cart);
  return cart;
}

function setNone() {
  stopFollowing();
  cart = null;
  emit();
  return null;
}

/** Forget the cart on this device (after checkout, sign-out, or a kiosk reset). */
export function forget() {
  stopFollowing();
  cart = null;
  session.set({ cart: null });
  emit();
}

/** Follow a cart reached another way (sign-in, a kiosk claim); `token` for a guest cart. */
export async function adopt(next, token = null) {
  stopFollowing();
  cart = null;
  session.set({ cart: { id: next.id, ...(token ? { token } : {}) } });
  await reconnect(); // the socket must carry the new credentials
  accept(next);
}

async function ensureCart() {
  if (cart) return cart;
  if (session.get("cart")?.id || session.get("customer")) {
    const loaded = await load().catch((error) => {
      if (isUnsupported(error)) throw error;
      return null;
    });
    if (loaded) return loaded;
  }
  const result = payload((await gql(CREATE(), { input: { scanRefs: session.get("scanRefs") || [] }, ...vars() })).cartCreate);
  session.set({ scanRefs: [] });
  await adopt(result.cart, result.cartToken);
  return cart;
}

async function change(mutation, field, input) {
  try {
    const result = payload((await gql(mutation(), { input, ...vars() }))[field]);
    accept(result.cart);
    return cart;
  } catch (error) {
    // On a version conflict the payload carries the current cart: show it.
    if (error instanceof ApiError && error.cart) accept(error.cart);
    // The cart closed elsewhere and the news has not come yet: move on now.
    if (followClose && error.code === "NOT_FOUND" && cart) await moveOn(cart.id);
    throw error;
  }
}

/** Add `quantity` of the product with this GTIN, creating the cart on first use. */
export async function addLine(gtin, quantity = 1) {
  const current = await ensureCart();
  return change(ADD, "cartLinesAdd", {
    cartId: current.id,
    lines: [{ gtin, quantity }],
    idempotencyKey: idempotencyKey(),
  });
}

/** Set a line's quantity (0 removes it); a stale view gets VERSION_CONFLICT and the fresh cart. */
export async function setQuantity(lineId, quantity) {
  if (quantity <= 0) return removeLine(lineId);
  return change(UPDATE, "cartLinesUpdate", {
    cartId: cart.id,
    lines: [{ lineId, quantity }],
    expectedVersion: cart.version,
    idempotencyKey: idempotencyKey(),
  });
}

/** Remove a line. */
export async function removeLine(lineId) {
  return change(REMOVE, "cartLinesRemove", {
    cartId: cart.id,
    lineIds: [lineId],
    expectedVersion: cart.version,
    idempotencyKey: idempotencyKey(),
  });
}
