// Scan: the rear camera with manual entry as the fallback. Every look-up goes through the
// `scan` mutation, which records the scan (and, for unknown codes, the missed demand).

import { ApiError, gql, payload } from "../api.js";
import { busy, h, heading, notice, replace } from "../dom.js";
import { digitsOf } from "../gtin.js";
import { navigate } from "../router.js";
import { createScanner } from "../scanner.js";
import * as session from "../session.js";

const SCAN = `mutation Scan($input: ScanInput!) {
  scan(input: $input) { gtin product { id gtin name } errors { code field message } }
}`;

const RECENT_LIMIT = 8;

function deviceKind() {
  return matchMedia("(pointer: coarse)").matches ? "PHONE" : "WEB";
}

/** Remember a product the shopper looked at, newest first. */
export function rememberRecent(product) {
  const recent = (session.get("recent") || []).filter((p) => p.gtin !== product.gtin);
  recent.unshift({ gtin: product.gtin, name: product.name });
  session.set({ recent: recent.slice(0, RECENT_LIMIT) });
}

/**
 * Look a code up with the scan mutation; returns the product's GTIN to open, or throws
 * ApiError (INVALID_GTIN, NOT_FOUND with the canonical code in `field`, OFFLINE).
 */
export async function lookUp(code) {
  const result = payload(
    (await gql(SCAN, { input: { code, storeId: session.store()?.id ?? null, deviceKind: deviceKind() } })).scan,
  );
  if (!result.product) {
    throw new ApiError(`No product has the barcode ${result.gtin || code}. We have noted that you looked for it.`, { code: "NOT_FOUND" });
  }
  return result.product.gtin;
}

export async function render() {
  const store = session.store();
  if (!store) {
    navigate("/stores?next=/scan", { replace: true });
    return h("p.loading", "Choose a store first…");
  }
  const feedback = h("div.scan-feedback", { "aria-live": "polite" });
  let scanner = null;

  async function open(code, source) {
    replace(feedback);
    try {
      const gtin = await lookUp(code);
      scanner?.stop();
      navigate(`/product/${gtin}`);
    } catch (error) {
      if (error.code === "OFFLINE") {
        // The product page may be saved from an earlier visit.
        const digits = digitsOf(code);
        if (digits) return navigate(`/product/${digits}`);
      }
      replace(feedback, notice("error", error.message));
      if (source === "camera") {
        scanner.node.remove();
        startButton.textContent = "Scan again";
        startButton.hidden = false;
      }
    }
  }

  const input = h("input#manual-code", {
    type: "text",
    inputmode: "numeric",
    autocomplete: "off",
    enterkeyhint: "search",
    pattern: "[0-9 \\-]*",
    maxlength: "64",
    required: true,
    "aria-describedby": "manual-help",
    placeholder: "e.g. 7038010009457",
  });
  const submit = h("button.button.button-primary", { type: "submit" }, "Look up");
  const form = h(
    "form.manual-entry",
    {
      onsubmit: (event) => {
        event.preventDefault();
        busy(submit, () => open(input.value.trim(), "manual"));
      },
    },
    h("label", { for: "manual-code" }, "Barcode number"),
    h("p#manual-help.help", "The digits under the bars: EAN-13, EAN-8 or UPC-A."),
    h("div.input-row", input, submit),
  );

  scanner = createScanner({ onCode: (code) => { scanner.stop(); open(code, "camera"); } });
  const startButton = h(
    "button.button.button-primary.button-large",
    {
      type: "button",
      "data-testid": "start-camera",
      onclick: () => {
        startButton.hidden = true;
        cameraBox.append(scanner.node);
        scanner.start();
      },
    },
    "Scan with the camera",
  );
  const cameraBox = h("div.camera-box", startButton);

  const recent = session.get("recent") || [];
  return {
    node: h(
      "section.screen-scan",
      heading("Scan a barcode"),
      h("p.lede", "Prices and stock for ", h("strong", store.name), ". ", h("a", { href: "#/stores?next=/scan" }, "Change store")),
      cameraBox,
      feedback,
      form,
      recent.length
        ? h(
            "section.recent",
            h("h2", "Recently viewed"),
            h("ul.link-list", recent.map((p) => h("li", h("a", { href: `#/product/${p.gtin}` }, p.name)))),
          )
        : null,
    ),
    cleanup: () => scanner?.stop(),
  };
}
