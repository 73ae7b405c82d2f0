// The camera scanner component: rear camera, a viewfinder, torch toggle where the camera
// has one, and barcode detection with the browser's BarcodeDetector or, where there is
// none (Firefox, Safari, desktop Chromium on Linux), the vendored ZXing polyfill, which is
// only downloaded when scanning starts.

import { h } from "./dom.js";
import { digitsOf, hasValidCheckDigit } from "./gtin.js";
import { t } from "./i18n.js";

const PRODUCT_FORMATS = ["ean_13", "ean_8", "upc_a", "upc_e"];

/** Accept a product barcode: digits with a valid GS1 check digit. */
function productCode(rawValue) {
  const digits = digitsOf(rawValue);
  return digits && hasValidCheckDigit(digits) ? digits : null;
}
const FRAME_INTERVAL_MS = 120;

async function detectorClass(formats) {
  if ("BarcodeDetector" in window) {
    try {
      const supported = await window.BarcodeDetector.getSupportedFormats();
      if (formats.every((format) => supported.includes(format))) return { Detector: window.BarcodeDetector, polyfill: false };
    } catch {
      // fall through to the polyfill
    }
  }
  const { BarcodeDetector } = await import("/vendor/barcode-detector.js");
  return { Detector: BarcodeDetector, polyfill: true };
}

/** What to tell the user when the camera does not start, by the browser's error name. */
export function cameraMessage(error) {
  switch (error?.name) {
    case "NotAllowedError":
    case "SecurityError":
      return t("scanner.error.denied");
    case "NotFoundError":
    case "OverconstrainedError":
      return t("scanner.error.none");
    case "NotReadableError":
      return t("scanner.error.busy");
    case "NotSupported":
      return t("scanner.error.unsupported");
    default:
      return t("scanner.error.other", { reason: error?.message || String(error) });
  }
}

/**
 * Build a scanner. `onCode(code)` is called once per distinct barcode that `accept`
 * turns into a code (by default: product barcodes with a valid check digit).
 * `onError(error, message)` when the camera cannot start: the viewfinder is hidden and
 * `message` says why (the caller shows it next to its manual entry and focuses that).
 * Returns {node, start(), stop()}; stop() releases the camera (always call it on leave).
 */
export function createScanner({ onCode, onError, formats = PRODUCT_FORMATS, accept = productCode, facingMode = "environment" }) {
  const video = h("video.scanner-video", { muted: true, playsinline: true, autoplay: true, "aria-hidden": "true" });
  video.muted = true;
  const status = h("p.scanner-status", { role: "status", "data-testid": "scanner-status" }, t("scanner.starting"));
  const torch = h("button.button.button-ghost.scanner-torch", { type: "button", hidden: true, "aria-pressed": "false" }, t("scanner.torch"));
  const stopButton = h("button.button.button-ghost", { type: "button" }, t("scanner.stop"));
  const node = h(
    "div.scanner",
    h("div.scanner-frame", video, h("div.scanner-target", { "aria-hidden": "true" })),
    status,
    h("div.scanner-actions", torch, stopButton),
  );
  let stream = null;
  let running = false;
  let timer = null;
  let lastCode = null;

  async function tick(detector) {
    if (!running) return;
    try {
      if (video.readyState >= 2) {
        const found = await detector.detect(video);
        for (const barcode of found) {
          const code = accept(barcode.rawValue);
          if (code && code !== lastCode) {
            lastCode = code;
            status.textContent = t("scanner.read", { code });
            navigator.vibrate?.(60);
            onCode(code);
            break;
          }
        }
      }
    } catch (error) {
      console.warn("detect failed", error);
    }
    if (running) timer = setTimeout(() => tick(detector), FRAME_INTERVAL_MS);
  }

  async function start() {
    if (running) return;
    running = true;
    lastCode = null;
    node.hidden = false;
    node.classList.add("is-running");
    status.textContent = t("scanner.starting");
    status.setAttribute("role", "status");
    try {
      if (!navigator.mediaDevices?.getUserMedia) {
        throw Object.assign(new Error("no getUserMedia"), { name: "NotSupported" });
      }
      stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: { ideal: facingMode }, width: { ideal: 1280 }, height: { ideal: 720 } },
      });
      if (!running) return stop();
      video.srcObject = stream;
      await video.play().catch(() => {});
      const [track] = stream.getVideoTracks();
      const capabilities = track.getCapabilities?.() ?? {};
      if (capabilities.torch) {
        torch.hidden = false;
        torch.onclick = async () => {
          const on = torch.getAttribute("aria-pressed") !== "true";
          try {
            await track.applyConstraints({ advanced: [{ torch: on }] });
            torch.setAttribute("aria-pressed", String(on));
          } catch {
            torch.hidden = true;
          }
        };
      }
      status.textContent = t("scanner.loading");
      const { Detector, polyfill } = await detectorClass(formats);
      const detector = new Detector({ formats });
      node.dataset.detector = polyfill ? "polyfill" : "native";
      status.textContent = t("scanner.point");
      tick(detector);
    } catch (error) {
      stop();
      const message = cameraMessage(error);
      status.textContent = message;
      // No viewfinder without a camera: the caller says why by its manual entry.
      if (onError) {
        node.hidden = true;
        onError(error, message);
      } else {
        status.setAttribute("role", "alert");
      }
    }
  }

  function stop() {
    running = false;
    clearTimeout(timer);
    stream?.getTracks().forEach((track) => track.stop());
    stream = null;
    video.srcObject = null;
    torch.hidden = true;
    node.classList.remove("is-running");
  }

  stopButton.addEventListener("click", () => {
    stop();
    status.textContent = t("scanner.stopped");
  });

  return { node, start, stop, video };
}
