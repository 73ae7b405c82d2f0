// Pieces of a product as the product page shows them: the image in a fixed box that never
// stays blank, the price with the regular one announced as such, the comparison price
// (kr/kg, kr/l, kr/stk) and a card that tells products of the same name apart.

import { h, svg } from "./dom.js";
import { money, t } from "./i18n.js";

/** How long an image may take before the box keeps its placeholder for good. */
export const IMAGE_TIMEOUT_MS = 4000;

/** A neutral pack (a carton with a label), drawn in the box while there is no image. */
function packGraphic() {
  return svg(
    "svg",
    { class: "product-frame-graphic", viewBox: "0 0 48 48", width: "45%", height: "45%", "aria-hidden": "true", focusable: "false" },
    svg("path", { d: "M14 6h20l4 8v26a2 2 0 0 1-2 2H12a2 2 0 0 1-2-2V14z", fill: "none", stroke: "currentColor", "stroke-width": "2.5", "stroke-linejoin": "round" }),
    svg("path", { d: "M10 14h28", fill: "none", stroke: "currentColor", "stroke-width": "2.5" }),
    svg("rect", { x: "16", y: "22", width: "16", height: "10", rx: "2", fill: "currentColor", opacity: "0.35" }),
  );
}

/**
 * A product image in a fixed aspect box (size "lg", "md" or "sm"). The placeholder shows
 * from the start; the photo covers it once loaded. A photo that fails, or has not loaded
 * after `timeout` ms (a hanging image host), is dropped and the placeholder stays.
 * `data-state` says which: "loading", "loaded" or "placeholder".
 */
export function productPicture(url, alt, size = "md", { timeout = IMAGE_TIMEOUT_MS } = {}) {
  const box = h(`div.product-frame.product-frame-${size}`, {
    "data-testid": "product-image",
    "data-state": url ? "loading" : "placeholder",
    role: alt ? "img" : null,
    "aria-label": alt || null,
    "aria-hidden": alt ? null : "true",
  }, packGraphic());
  if (!url) return box;
  const img = h("img.product-frame-photo", { alt: "", decoding: "async", referrerpolicy: "no-referrer" });
  const giveUp = () => {
    clearTimeout(timer);
    img.removeAttribute("src"); // stops the request where the browser allows it
    img.remove();
    box.dataset.state = "placeholder";
  };
  const timer = setTimeout(giveUp, timeout);
  img.addEventListener("load", () => {
    clearTimeout(timer);
    box.dataset.state = "loaded";
  }, { once: true });
  img.addEventListener("error", giveUp, { once: true });
  img.src = url;
  box.append(img);
  return box;
}

const UNIT_KEYS = { KILOGRAM: "product.unit.kg", LITRE: "product.unit.l", PIECE: "product.unit.piece" };

/** "59,80 kr/kg" for a UnitPrice, or null without one (an uncertain pack size). */
export function unitPriceText(unitPrice) {
  if (!unitPrice || !UNIT_KEYS[unitPrice.unit]) return null;
  return t("product.unitPrice", { price: money(unitPrice.price), unit: t(UNIT_KEYS[unitPrice.unit]) });
}

/**
 * The price: the current one, during a campaign the regular one struck through (its
 * accessible name "Regular price …" in visually hidden text, which screen readers read,
 * rather than a label on <s>), the campaign's name and the comparison price.
 */
export function priceView(price, unitPrice = null, { large = false } = {}) {
  if (!price) return null;
  const onCampaign = price.campaign && price.current.amount < price.regular.amount;
  const perUnit = unitPriceText(unitPrice);
  return h(
    `div.price${large ? ".price-large" : ""}`,
    h(`span.price-current${onCampaign ? ".price-campaign" : ""}`, { "data-testid": "price" }, money(price.current)),
    onCampaign
      ? h(
          "span.price-regular-wrap",
          { "data-testid": "price-regular" },
          h("span.visually-hidden", t("product.regularPrice", { price: money(price.regular) })),
          h("s.price-regular", { "aria-hidden": "true" }, money(price.regular)),
        )
      : null,
    onCampaign ? h("span.campaign-name", price.campaign.name) : null,
    perUnit ? h("span.unit-price", { "data-testid": "unit-price" }, perUnit) : null,
  );
}

/** The words that tell a product from others of the same name: brand and pack size. */
export function productMeta(product) {
  return [product.brand, product.quantity].filter(Boolean).join(" · ");
}

/** The label a shopper reads on a card: name, brand and size. */
export function productLabel(product) {
  return [product.name, productMeta(product)].filter(Boolean).join(" · ");
}
