// The product page: image, name, brand, price and campaign, stock here / other stores /
// online, alternatives in stock here, add to cart, and the barcode image.

import { gql, isUnsupported } from "../api.js";
import * as cartState from "../cart-state.js";
import { busy, h, heading, notice, priceBlock, productImage, replace, stockPill } from "../dom.js";
import { PRODUCT_CARD, PRODUCT_PAGE } from "../fragments.js";
import { t } from "../i18n.js";
import { followProduct } from "../product-live.js";
import * as session from "../session.js";
import { rememberRecent } from "./scan.js";

const PRODUCT = `query Product($gtin: String!, $storeId: ID) { product(gtin: $gtin) { ${PRODUCT_PAGE} } }`;
const ALTERNATIVES = `query ProductAlternatives($gtin: String!, $storeId: ID) {
  product(gtin: $gtin) {
    id
    alternatives(storeId: $storeId, first: 5) {
      ${PRODUCT_CARD}
      availability(storeId: $storeId) { here { available status } }
    }
  }
}`;

function formatDate(iso) {
  return new Date(iso).toLocaleDateString(undefined, { day: "numeric", month: "short" });
}

function campaignNote(price) {
  const campaign = price.campaign;
  if (!campaign || price.current.amount >= price.regular.amount) return null;
  return h("p.campaign-note", campaign.endsAt ? `${campaign.name} — until ${formatDate(campaign.endsAt)}` : campaign.name);
}

function availabilitySection(availability, store) {
  const here = availability.here;
  const others = availability.stores.filter((level) => level.store?.id !== store?.id);
  return h(
    "section.availability",
    { "aria-labelledby": "availability-heading" },
    h("h2#availability-heading", "Where to get it"),
    h(
      "dl.stock-list",
      store ? [h("dt", `Here, ${store.name}`), h("dd", { "data-testid": "stock-here" }, stockPill(here, { where: "here" }))] : null,
      h("dt", "Online"),
      h("dd", { "data-testid": "stock-online" }, stockPill(availability.online)),
    ),
    others.length
      ? h(
          "details.other-stores",
          h("summary", `Other stores (${others.filter((l) => l.status !== "OUT_OF_STOCK").length} of ${others.length} have it)`),
          h("ul.stock-stores", others.map((level) => h("li", h("span", level.store?.name ?? "Store"), stockPill(level)))),
        )
      : null,
  );
}

// The screen's words, in one place for a later message catalog.
const TEXT = {
  added: (count) => `Added. ${count} item${count === 1 ? "" : "s"} in your cart.`,
  short: (inCart, here, storeName, online) =>
    here === 0
      ? `Added, but ${storeName} has none now (${online} online). At checkout you can have it delivered or collect it elsewhere.`
      : `Added, but you have ${inCart} in your cart and only ${here} ${here === 1 ? "is" : "are"} available at ${storeName} now (${online} online). At checkout you can take what is here and get the rest elsewhere.`,
  shortBefore: (here, storeName, online) => `Only ${here} available at ${storeName} now (${online} online).`,
};

/** The shortfall warning for `wanted` units at the chosen store, or null when the store has them. */
function shortfall(product, wanted, store) {
  const here = product.availability?.here;
  if (!store || !here || here.available >= wanted) return null;
  return { here: here.available, online: product.availability.online?.available ?? 0, storeName: store.name };
}

function addToCartSection(product, store) {
  const quantity = h("input#add-quantity", { type: "number", min: "1", max: "99", value: "1", inputmode: "numeric" });
  const feedback = h("div.add-feedback", { "aria-live": "polite" });
  const button = h("button.button.button-primary.button-large", { type: "submit", "data-testid": "add-to-cart" }, "Add to cart");
  const hint = h("p.small.add-hint", { "data-testid": "add-hint", "aria-live": "polite" });
  quantity.addEventListener("input", () => {
    const short = shortfall(product, Number(quantity.value) || 1, store);
    hint.textContent = short ? TEXT.shortBefore(short.here, short.storeName, short.online) : "";
  });
  return h(
    "form.add-to-cart",
    {
      onsubmit: (event) => {
        event.preventDefault();
        busy(button, async () => {
          replace(feedback);
          try {
            const cart = await cartState.addLine(product.gtin, Math.max(1, Number(quantity.value) || 1));
            const inCart = cart.lines.find((line) => line.product.gtin === product.gtin)?.quantity ?? 0;
            const short = shortfall(product, inCart, store);
            const said = short ? notice("warning", TEXT.short(inCart, short.here, short.storeName, short.online)) : notice("success", TEXT.added(cart.totalQuantity));
            replace(feedback, said, " ", h("a", { href: "#/cart" }, "Go to cart"));
          } catch (error) {
            replace(feedback, notice("error", isUnsupported(error) ? "Carts are not available on this server yet." : error.message));
          }
        });
      },
    },
    h("label", { for: "add-quantity" }, "Quantity"),
    h("div.input-row", quantity, button),
    hint,
    feedback,
  );
}

async function loadAlternatives(container, gtin, store) {
  try {
    const data = await gql(ALTERNATIVES, { gtin, storeId: store?.id ?? null });
    const alternatives = data.product?.alternatives ?? [];
    if (!alternatives.length) return container.remove();
    replace(
      container,
      h("h2", store ? `Alternatives in stock at ${store.name}` : "Alternatives"),
      h(
        "ul.card-list",
        alternatives.map((alt) =>
          h(
            "li",
            h(
              "a.product-card",
              { href: `#/product/${alt.gtin}` },
              productImage(alt.imageUrl, "", "sm"),
              h("span.card-body", h("span.card-title", alt.name), h("span.card-meta", alt.brand ?? ""), priceBlock(alt.price)),
              stockPill(alt.availability?.here),
            ),
          ),
        ),
      ),
    );
  } catch (error) {
    // Alternatives are a bonus: a server without them (or offline) just shows none.
    if (!isUnsupported(error)) console.warn("alternatives:", error.message);
    container.remove();
  }
}

export async function render({ gtin }) {
  const store = session.store();
  let product;
  try {
    product = (await gql(PRODUCT, { gtin, storeId: store?.id ?? null })).product;
  } catch (error) {
    return h("section", heading("Product"), notice("error", error.code === "INVALID_GTIN" ? `${gtin} is not a valid barcode.` : error.code === "OFFLINE" ? t("offline.product", { code: gtin }) : error.message), h("a.button", { href: "#/scan" }, "Scan another"));
  }
  if (!product) {
    return h("section", heading("Unknown product"), notice("info", `No product has the barcode ${gtin}.`), h("a.button", { href: "#/scan" }, "Scan another"));
  }
  rememberRecent(product);
  const alternatives = h("section.alternatives", { "aria-busy": "true" });
  loadAlternatives(alternatives, product.gtin, store);
  const node = page(product, store, alternatives);
  // Follow the product while the page is open: price, campaign and stock change in place.
  const stop = followProduct(product.gtin, store?.id, PRODUCT_PAGE, (now) => {
    node.querySelector(".product-head .price")?.replaceWith(priceBlock(now.price, { large: true }) ?? "");
    node.querySelector(".campaign-note")?.remove();
    const note = campaignNote(now.price);
    if (note) node.querySelector(".product-head").append(note);
    product.availability = now.availability; // the add-to-cart warning reads it
    node.querySelector("section.availability")?.replaceWith(availabilitySection(now.availability, store));
  });
  return { node, cleanup: stop };
}

function page(product, store, alternatives) {
  return h(
    "article.screen-product",
    { "data-gtin": product.gtin },
    h(
      "div.product-hero",
      productImage(product.imageUrl, product.name, "lg"),
      h(
        "div.product-head",
        product.brand ? h("p.product-brand", product.brand) : null,
        heading(product.name),
        product.quantity ? h("p.quantity", product.quantity) : null,
        priceBlock(product.price, { large: true }),
        campaignNote(product.price),
      ),
    ),
    availabilitySection(product.availability, store),
    addToCartSection(product, store),
    alternatives,
    h(
      "section.product-details",
      h("h2", "Details"),
      product.description ? h("p", product.description) : null,
      product.categories.length ? h("p.categories", product.categories.join(" › ")) : null,
      h(
        "figure.barcode",
        h("img", { src: product.barcodeUrl, alt: `Barcode ${product.gtin}`, width: "240", height: "120", "data-testid": "barcode-image" }),
      ),
    ),
    h("p", h("a.button.button-ghost", { href: "#/scan" }, "Scan another")),
  );
}
