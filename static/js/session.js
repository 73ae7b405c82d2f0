// What this device remembers: the chosen store, the cart it works on, who is signed in.
// Kept in localStorage under one key per app ("shopper", "kiosk", "staff") so a kiosk or a
// staff tablet that once opened the shopper page never mixes the two.

const listeners = new Set();
let app = "shopper";
let state = {};

function key() {
  return `omnicart.${app}`;
}

function load() {
  try {
    state = JSON.parse(localStorage.getItem(key()) || "{}") || {};
  } catch {
    state = {};
  }
}

function save() {
  try {
    localStorage.setItem(key(), JSON.stringify(state));
  } catch {
    // Private mode or a full quota: the session still works for this page's lifetime.
  }
}

/** Choose which app's memory this page uses; call once before anything else. */
export function useApp(name) {
  app = name;
  load();
}

/** Read one remembered value. */
export function get(name) {
  return state[name] ?? null;
}

/** Remember (or, with null, forget) values, and tell every listener. */
export function set(values) {
  for (const [name, value] of Object.entries(values)) {
    if (value === null || value === undefined) delete state[name];
    else state[name] = value;
  }
  save();
  for (const listener of listeners) listener(state);
}

/** Call `listener(state)` whenever something is remembered or forgotten. */
export function onChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The store the shopper or device is in: {id, name, code} or null. */
export function store() {
  return get("store");
}

/** The headers that identify this device's user and cart to the API. */
export function authHeaders() {
  const headers = {};
  const token = get("authToken");
  if (token) headers.Authorization = `Bearer ${token}`;
  const cart = get("cart");
  if (cart?.token) headers["X-Cart-Token"] = cart.token;
  return headers;
}

/**
 * The same values for a graphql-transport-ws connection_init payload. A guest without a
 * cart sends the token of the cart behind their latest order, so it stays live.
 */
export function connectionParams() {
  const params = {};
  const token = get("authToken");
  if (token) params.authorization = `Bearer ${token}`;
  const cartToken = get("cart")?.token ?? (token ? null : get("orders")?.find((o) => o.token)?.token);
  if (cartToken) params.cartToken = cartToken;
  return params;
}

load();

// Another tab of the same app changed the memory: follow it.
addEventListener("storage", (event) => {
  if (event.key !== key()) return;
  load();
  for (const listener of listeners) listener(state);
});
