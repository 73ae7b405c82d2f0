// Live updates over graphql-transport-ws (the vendored graphql-ws client), loaded on the
// first subscription. One connection per page; it carries this device's credentials in
// connection_init and reconnects (with backoff) after network loss or a server restart.
// "connected" only while the socket is up and the device online (offline ends the socket).

import { t } from "./i18n.js";
import { connectionParams } from "./session.js";

let clientPromise = null;
let socketUp = false;
let status = "idle";
const statusListeners = new Set();

function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/graphql`;
}

function emit(next) {
  status = next;
  for (const listener of statusListeners) listener(next);
}

/** The status now: "idle" (nothing followed yet), "connected", "closed", "error" or "offline". */
export function liveStatus() {
  return status;
}

addEventListener("offline", () => {
  emit("offline");
  clientPromise?.then((c) => c.terminate()).catch(() => {});
});
addEventListener("online", () => {
  if (socketUp) emit("connected");
});

async function client() {
  if (!clientPromise) {
    clientPromise = import("/vendor/graphql-ws.js").then(({ createClient }) =>
      createClient({
        url: socketUrl(),
        connectionParams,
        lazy: true,
        keepAlive: 20_000,
        retryAttempts: Infinity,
        shouldRetry: () => true,
        retryWait: async (retries) => {
          await new Promise((resolve) => setTimeout(resolve, Math.min(1000 * 2 ** retries, 15_000) * (0.5 + Math.random() / 2)));
        },
        on: {
          connected: () => {
            socketUp = true;
            emit(navigator.onLine ? "connected" : "offline");
          },
          closed: () => {
            socketUp = false;
            emit(navigator.onLine ? "closed" : "offline");
          },
          error: () => emit(navigator.onLine ? "error" : "offline"),
        },
      }),
    );
    // Offline before the module was ever loaded: try again on the next subscription.
    clientPromise.catch(() => {
      clientPromise = null;
    });
  }
  return clientPromise;
}

/** Call `listener(status)` on "connected", "closed", "error" and "offline". */
export function onLiveStatus(listener) {
  statusListeners.add(listener);
  return () => statusListeners.delete(listener);
}

/**
 * Subscribe to one operation; `onData(data)` gets each event's data, `onError(error)` a
 * failure that will not be retried (e.g. the field does not exist). Returns unsubscribe.
 */
export function subscribe(query, variables, { onData, onError }) {
  let dispose = null;
  let cancelled = false;
  client()
    .then((c) => {
      if (cancelled) return;
      dispose = c.subscribe(
        { query, variables },
        {
          next: (result) => {
            if (result.errors?.length) onError?.(Object.assign(new Error(result.errors[0].message), { code: result.errors[0].extensions?.code ?? "ERROR" }));
            else if (result.data) onData(result.data);
          },
          error: (error) => onError?.(error instanceof Error ? error : new Error(String(error?.reason || error?.message || t("live.failed")))),
          complete: () => {},
        },
      );
    })
    .catch((error) => onError?.(error));
  return () => {
    cancelled = true;
    dispose?.();
  };
}

/** Reconnect with fresh credentials (after sign-in, sign-out or a new cart token). */
export async function reconnect() {
  if (!clientPromise) return;
  const old = clientPromise;
  clientPromise = null;
  (await old).dispose();
}
