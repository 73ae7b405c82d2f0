// The Open Food Facts credit every page carries, in the current language, links kept.

import { h, replace } from "./dom.js";
import { t } from "./i18n.js";

const OFF = "https://world.openfoodfacts.org";
const ODBL = "https://world.openfoodfacts.org/terms-of-use";

/** Fill `footer` with the credit: "Product data from Open Food Facts … (ODbL)." */
export function localiseCredit(footer) {
  if (!footer) return;
  const parts = t("credit.text", { off: "\u0001", odbl: "\u0002" }).split(/([\u0001\u0002])/);
  replace(
    footer,
    ...parts.map((part) => (part === "\u0001" ? h("a", { href: OFF }, "Open Food Facts") : part === "\u0002" ? h("a", { href: ODBL }, t("credit.odbl")) : part)),
  );
}
