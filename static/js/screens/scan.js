// Scan: the rear camera with manual entry as the fallback. Every look-up goes through the
// `scan` mutation, which records the scan (and, for unknown codes, the missed demand).

import { ApiError, gql, payload } from "../api.js";
import { busy, h, heading, notice, replace } from "../dom.js";
import { digitsOf } from "../gtin.js";
import { t } from "../i18n.js";
import { navigate } from "../router.js";
import { createScanner } from "../scanner.js";
import * as session from "../session.js";

const SCAN = `mutation Scan($input: ScanInput!) {
  scan(input: $input) { gtin scanRef product { id gtin name } errors { code field message } }
}`;

const RECENT_LIMIT = 8;
// The example the manual entry offers: a product of the demo catalog (Økologisk lettmelk).
// Looked up with `example: true`, so trying it counts in no scan report.
export const EXAMPLE_CODE = "7025110118769";
// Scans made before this device had a cart: the cart created next claims them (scan reports).
const SCAN_REFS_KEPT = 20;

function deviceKind() {
  return matchMedia("(pointer: coarse)").matches ? "PHONE" : "WEB";
}

/** Remember a product the shopper looked at, newest first. */
export function rememberRecent(product) {
  const recent = (session.get("recent") || []).filter((p) => p.gtin !== product.gtin);
  recent.unshift({ gtin: product.gtin, name: product.name });
  session.set({ recent: recent.slice(0, RECENT_LIMIT) });
}

function keepScanRef(ref) {
  if (!ref) return;
  session.set({ scanRefs: [...(session.get("scanRefs") || []), ref].slice(-SCAN_REFS_KEPT) });
}

/**
 * Look a code up with the scan mutation; returns the product's GTIN to open, or throws
 * ApiError (INVALID_GTIN, NOT_FOUND with the canonical code in `field`, OFFLINE).
 */
export async function lookUp(code, { example = false } = {}) {
  const input = { code, storeId: session.store()?.id ?? null, deviceKind: deviceKind(), example };
  const result = payload((await gql(SCAN, { input })).scan);
  keepScanRef(result.scanRef);
  if (!result.product) {
    throw new ApiError(example ? t("scan.exampleMissing", { code: result.gtin || code }) : t("scan.unknown", { code: result.gtin || code }), { code: "NOT_FOUND" });
  }
  return result.product.gtin;
}

export async function render() {
  const store = session.store();
  if (!store) {
    navigate("/stores?next=/scan", { replace: true });
    return h("p.loading", t("scan.chooseStoreFirst"));
  }
  const feedback = h("div.scan-feedback", { "aria-live": "polite" });
  let scanner = null;

  async function open(code, source) {
    replace(feedback);
    try {
      const gtin = await lookUp(code, { example: source === "example" });
      scanner?.stop();
      navigate(`/product/${gtin}`);
    } catch (error) {
      if (error.code === "OFFLINE") {
        // The product page may be saved from an earlier visit; it says so if it is not.
        const digits = digitsOf(code);
        if (digits) return navigate(`/product/${digits}`);
        replace(feedback, notice("error", t("scan.offline", { code })));
        return;
      }
      replace(feedback, notice("error", error.message));
      if (source === "camera") {
        scanner.node.remove();
        startButton.textContent = t("scan.again");
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
    placeholder: t("scan.placeholder", { code: EXAMPLE_CODE }),
  });
  const submit = h("button.button.button-primary", { type: "submit" }, t("scan.lookUp"));
  const example = h(
    "button.button.button-ghost.button-small",
    {
      type: "button",
      "data-testid": "scan-example",
      onclick: () => {
        input.value = EXAMPLE_CODE;
        busy(example, () => open(EXAMPLE_CODE, "example"));
      },
    },
    t("scan.example", { code: EXAMPLE_CODE }),
  );
  const form = h(
    "form.manual-entry",
    {
      onsubmit: (event) => {
        event.preventDefault();
        busy(submit, () => open(input.value.trim(), "manual"));
      },
    },
    h("label", { for: "manual-code" }, t("scan.manualLabel")),
    h("p#manual-help.help", t("scan.manualHelp")),
    h("div.input-row", input, submit),
    h("p.small", example),
  );

  function cameraFailed(_error, message) {
    // No viewfinder, no "Stop camera": say why, and put the cursor where typing works.
    scanner.node.remove();
    replace(feedback, notice("error", message));
    startButton.textContent = t("scan.cameraAgain");
    startButton.classList.remove("button-primary", "button-large");
    startButton.hidden = false;
    input.focus();
  }

  scanner = createScanner({
    onCode: (code) => {
      scanner.stop();
      open(code, "camera");
    },
    onError: cameraFailed,
  });
  const startButton = h(
    "button.button.button-primary.button-large",
    {
      type: "button",
      "data-testid": "start-camera",
      onclick: () => {
        startButton.hidden = true;
        replace(feedback);
        cameraBox.append(scanner.node);
        scanner.start();
      },
    },
    t("scan.camera"),
  );
  const cameraBox = h("div.camera-box", startButton);

  const recent = session.get("recent") || [];
  return {
    node: h(
      "section.screen-scan",
      heading(t("scan.title")),
      h("p.lede", t("scan.ledePrefix"), h("strong", store.name), ". ", h("a", { href: "#/stores?next=/scan" }, t("scan.changeStore"))),
      cameraBox,
      feedback,
      form,
      recent.length
        ? h(
            "section.recent",
            h("h2", t("scan.recent")),
            h("ul.link-list", recent.map((p) => h("li", h("a", { href: `#/product/${p.gtin}` }, p.name)))),
          )
        : null,
    ),
    cleanup: () => scanner?.stop(),
  };
}
