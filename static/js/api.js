// The GraphQL client: POST /graphql with this device's credentials, typed failures.

import { acceptLanguage, t } from "./i18n.js";
import { authHeaders } from "./session.js";

const listeners = new Set();

/** A failed operation: `code` is the server's error code, "OFFLINE" or "UNSUPPORTED". */
export class ApiError extends Error {
  constructor(message, { code = "ERROR", field = null, errors = [], cart = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.code = code;
    this.field = field;
    this.errors = errors;
    this.cart = cart;
  }
}

// Validation errors that mean "this server does not have that part of the API (yet)".
const UNSUPPORTED = /Cannot query field|Unknown argument|Unknown type|Cannot return null for non-nullable field Subscription/;

/** Whether an error says the server lacks the field or type asked for. */
export function isUnsupported(error) {
  return error instanceof ApiError && error.code === "UNSUPPORTED";
}

/** Call `listener({fromCache})` after every answered request (the offline banner uses it). */
export function onResponse(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

// The documents' hashes, worked out once per text: operations go by hash first (Apollo's
// automatic persisted queries). The server knows the PWA's own documents by hash from its start;
// any other (built at run time) it asks for once with PersistedQueryNotFound.
const hashes = new Map();

/** The hex SHA-256 of a document, or null where the browser has no WebCrypto (plain http). */
async function sha256Hex(text) {
  if (!globalThis.crypto?.subtle) return null;
  let hash = hashes.get(text);
  if (!hash) {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
    hash = Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
    hashes.set(text, hash);
  }
  return hash;
}

/** Whether the server asks for the document's text (Apollo clients read the message or the code). */
function persistedQueryNotFound(body) {
  return (body?.errors || []).some((e) => e.message === "PersistedQueryNotFound" || e.extensions?.code === "PERSISTED_QUERY_NOT_FOUND");
}

/** POST one GraphQL request body; return the decoded answer and the status, or throw ApiError. */
async function post(request, { headers, signal }) {
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", "Accept-Language": acceptLanguage(), ...authHeaders(), ...headers },
      body: JSON.stringify(request),
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(t("api.offline"), { code: "OFFLINE" });
  }
  const fromCache = response.headers.get("X-Omnicart-Offline") === "1";
  for (const listener of listeners) listener({ fromCache, status: response.status });
  try {
    return { body: await response.json(), status: response.status };
  } catch {
    throw new ApiError(t("api.httpStatus", { status: response.status }), { code: "HTTP_" + response.status });
  }
}

/**
 * Run one operation and return its `data`, or throw ApiError.
 * The operation's name (from the document) travels as operationName: the service worker
 * keeps the last answer of read operations it knows so the app opens offline. The document
 * goes by hash; its text only when the server asks for it (nothing has run then).
 */
export async function gql(query, variables = {}, options = {}) {
  if (!/^\s*mutation\b/.test(query)) return run(query, variables, options);
  inFlight += 1;
  try {
    return await run(query, variables, options);
  } finally {
    inFlight -= 1;
    if (inFlight === 0) for (const resolve of idleWaiters.splice(0)) resolve();
  }
}

// Mutations under way on this device: news of a cart closing waits for them to answer,
// so what this device did itself (a checkout, a sign-in) is not told as done elsewhere.
let inFlight = 0;
const idleWaiters = [];

/** A promise that resolves once no mutation of this device is waiting for its answer. */
export function mutationsSettled() {
  return inFlight === 0 ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve));
}

async function run(query, variables, { headers = {}, signal } = {}) {
  const operationName = /^\s*(?:query|mutation)\s+(\w+)/.exec(query)?.[1];
  const sha256Hash = await sha256Hex(query);
  let answer;
  if (sha256Hash) {
    const extensions = { persistedQuery: { version: 1, sha256Hash } };
    answer = await post({ extensions, variables, operationName }, { headers, signal });
    if (persistedQueryNotFound(answer.body)) answer = await post({ query, extensions, variables, operationName }, { headers, signal });
  } else {
    answer = await post({ query, variables, operationName }, { headers, signal });
  }
  const { body, status } = answer;
  if (body.errors?.length) {
    const first = body.errors[0];
    const code = UNSUPPORTED.test(first.message) ? "UNSUPPORTED" : first.extensions?.code || "ERROR";
    throw new ApiError(first.message, { code, errors: body.errors });
  }
  if (!body.data) throw new ApiError(t("api.noData"), { code: "HTTP_" + status });
  return body.data;
}

/**
 * Unwrap a mutation payload: return it when `errors` is empty, else throw ApiError with
 * the first UserError's code, field and message (and the current cart on conflicts).
 */
export function payload(result) {
  if (result?.errors?.length) {
    const [first] = result.errors;
    throw new ApiError(first.message, { code: first.code, field: first.field, errors: result.errors, cart: result.cart ?? null });
  }
  return result;
}

/** A random idempotency key for a mutation that may be retried. */
export function idempotencyKey() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}
