// Web Push: only after the shopper presses "Notify me", subscribe this browser with the
// server's VAPID key and hand the subscription over (for the signed-in customer, or for the
// holder of the guest cart token in `headers`). The service worker shows what arrives.
import { gql } from "./api.js";

const KEY = `query WebPushKey { webPushPublicKey }`;
const SUBSCRIBE = `mutation PushSubscribe($input: PushSubscribeInput!) { pushSubscribe(input: $input) { subscribed errors { code message } } }`;

/** Tell whether this browser can take push messages at all. */
export function pushSupported() {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

function keyBytes(base64url) {
  const raw = atob(base64url.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

/** Ask for permission (the caller runs this on a click) and subscribe; resolve true when kept. */
export async function enablePush(headers = {}) {
  if (!pushSupported() || (await Notification.requestPermission()) !== "granted") return false;
  const registration = await navigator.serviceWorker.ready;
  let subscription = await registration.pushManager.getSubscription();
  if (!subscription) {
    const { webPushPublicKey } = await gql(KEY);
    subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true,
      applicationServerKey: keyBytes(webPushPublicKey),
    });
  }
  const { endpoint, keys } = subscription.toJSON();
  const answer = (await gql(SUBSCRIBE, { input: { endpoint, keys: { p256dh: keys.p256dh, auth: keys.auth } } }, { headers })).pushSubscribe;
  return answer.subscribed;
}
