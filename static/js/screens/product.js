// The product page: image, name, brand, price (with the comparison price) and campaign; when
// the chosen store has none, first what the shopper can do (the nearest store that has it,
// delivery, "tell me when it's back here"); stock here / other stores / online; add to
// cart; alternatives in stock here; what goes well with it; the barcode image.

import { gql, isUnsupported, payload } from "../api.js";
import * as cartState from "../cart-state.js";
import { busy, h, heading, notice, replace, stockPill } from "../dom.js";
import { PRODUCT_CARD, PRODUCT_PAGE } from "../fragments.js";
import { date, t } from "../i18n.js";
import { followProduct } from "../product-live.js";
import { priceView, productLabel, productMeta, productPicture } from "../product-view.js";
import { enablePush, pushSupported } from "../push.js";
import { navigate } from "../router.js";
import * as session from "../session.js";
import { rememberRecent } from "./scan.js";

const PRODUCT = `query Product($gtin: String!, $storeId: ID) { product(gtin: $gtin) { ${PRODUCT_PAGE} } }`;
const SUGGESTION = `${PRODUCT_CARD}
      unitPrice { price { amount currency } unit }
      availability(storeId: $storeId) { here { available status } }`;
// Alternatives come "in stock here first" but not only: ask for more, keep those in stock.
const ALTERNATIVES = `query ProductAlternatives($gtin: String!, $storeId: ID) {
  product(gtin: $gtin) {
    id
    alternatives(storeId: $storeId, first: 12) { ${SUGGESTION} }
    complements(storeId: $storeId, first: 5) { ${SUGGESTION} }
  }
}`;
const BACK_IN_STOCK = `mutation BackInStockRequest($input: BackInStockRequestInput!) {
  backInStockRequest(input: $input) { request { id channel } errors { code field message } }
}`;
const SHOWN_SUGGESTIONS = 5;

function campaignNote(price) {
  const campaign = price.campaign;
  if (!campaign || price.current.amount >= price.regular.amount) return null;
  const text = campaign.endsAt ? t("product.campaignUntil", { name: campaign.name, date: date(campaign.endsAt, { day: "numeric", month: "short" }) }) : campaign.name;
  return h("p.campaign-note", text);
}

function availabilitySection(availability, store) {
  const here = availability.here;
  const others = availability.stores.filter((level) => level.store?.id !== store?.id);
  return h(
    "section.availability",
    { "aria-labelledby": "availability-heading" },
    h("h2#availability-heading", t("product.where.title")),
    h(
      "dl.stock-list",
      store ? [h("dt", t("product.where.here", { store: store.name })), h("dd", { "data-testid": "stock-here" }, stockPill(here, { where: "here" }))] : null,
      h("dt", t("product.where.online")),
      h("dd", { "data-testid": "stock-online" }, stockPill(availability.online)),
    ),
    others.length
      ? h(
          "details.other-stores",
          h("summary", t("product.where.otherStores", { count: others.filter((l) => l.status !== "OUT_OF_STOCK").length, total: others.length })),
          h("ul.stock-stores", others.map((level) => h("li", h("span", level.store?.name ?? t("product.where.store")), stockPill(level)))),
        )
      : null,
  );
}

/**
 * The nearest other store that has it. Stores carry no coordinates, so "nearest" is: a store
 * in the chosen store's city first, then the one with the most available, then chain order.
 */
export function nearestWithStock(availability, store) {
  const levels = availability?.stores ?? [];
  const city = levels.find((level) => level.store?.id === store?.id)?.store?.city ?? null;
  const sameCity = (level) => (city && level.store.city === city ? 1 : 0);
  const candidates = levels
    .map((level, order) => ({ level, order }))
    .filter(({ level }) => level.store && level.store.id !== store?.id && level.available > 0);
  candidates.sort((a, b) => sameCity(b.level) - sameCity(a.level) || b.level.available - a.level.available || a.order - b.order);
  return candidates[0]?.level ?? null;
}

/** How to tell this shopper: push where the device has a subscription, else the member's email (or SMS). */
async function notifyChannel(sms) {
  const customer = session.get("customer");
  const token = session.get("cart")?.token ?? session.get("orders")?.find((o) => o.token)?.token;
  const headers = !customer && token ? { "X-Cart-Token": token } : {};
  const push = async () => (await enablePush(headers).catch(() => false)) && { channel: "PUSH", headers };
  if (customer && sms) return { channel: "SMS", headers };
  if (pushSupported() && Notification.permission === "granted" && (customer || token)) {
    const registration = await navigator.serviceWorker.getRegistration();
    const found = (await registration?.pushManager.getSubscription()) && (await push());
    if (found) return found;
  }
  if (customer) return { channel: "EMAIL", headers };
  return token && pushSupported() && Notification.permission !== "denied" ? push() : null;
}

/** "Tell me when it's back here"; asking again answers the open request. */
function notifyControl(product, store) {
  const box = h("div.notify", { "data-testid": "notify" });
  const said = h("div", { "aria-live": "polite" });
  const button = (testid, text, sms) => {
    const el = h(`button.button.button-${sms ? "ghost" : "primary"}`, { type: "button", "data-testid": testid }, text);
    el.onclick = () =>
      busy(el, async () => {
        replace(said);
        try {
          const how = await notifyChannel(sms);
          if (!how) return replace(said, notice("info", t("product.notify.signIn")), h("a", { href: "#/account" }, t("product.notify.signInLink")));
          const input = { gtin: product.gtin, storeId: store.id, channel: how.channel };
          const { request } = payload((await gql(BACK_IN_STOCK, { input }, { headers: how.headers })).backInStockRequest);
          replace(box, h("p.notice.notice-success", { role: "status", "data-testid": "notify-confirmed" }, t("product.notify.confirmed", { store: store.name }), " ", t(`product.notify.by.${request.channel}`)));
        } catch (error) {
          replace(said, notice("error", error.code === "CONFLICT" ? t("product.notify.inStockNow", { store: store.name }) : error.message));
        }
      });
    return el;
  };
  const sms = session.get("customer")?.phone ? button("notify-sms", t("product.notify.sms"), true) : null;
  return replace(box, h("div.notify-buttons", button("notify-me", t("product.notify.ask"), false), sms), said);
}

function option(testid, title, detail, ...rest) {
  return h("li.out-here-option", { "data-testid": testid }, h("p.out-here-text", h("strong", title), " ", h("span.small", detail)), ...rest);
}

function deliverOption(product, online) {
  const said = h("div", { "aria-live": "polite" });
  const button = h("button.button", { type: "button", "data-testid": "deliver-it" }, t("product.outHere.deliverButton"));
  button.onclick = () =>
    busy(button, async () => {
      try {
        await cartState.addLine(product.gtin, 1);
        replace(said, notice("success", t("product.outHere.deliverAdded")), h("a", { href: "#/cart" }, t("product.goToCart")));
      } catch (error) {
        replace(said, notice("error", isUnsupported(error) ? t("product.cartUnsupported") : error.message));
      }
    });
  return option("deliver", t("product.outHere.deliver"), t("product.outHere.online", { count: online }), button, said);
}

function nearestOption({ store, available }) {
  const choose = () => {
    session.set({ store: { id: store.id, name: store.name, code: store.code } });
    navigate(location.hash.slice(1));
  };
  const button = h("button.button", { type: "button", onclick: choose }, t("product.outHere.chooseStore", { store: store.name }));
  return option("nearest-store", t("product.outHere.nearest", { store: store.name }), t("product.outHere.nearestStock", { count: available }), button);
}

/** When the chosen store has none: what the shopper can do, first on the page. */
function outOfStockLead(product, store) {
  const availability = product.availability;
  if (!store || !availability?.here || availability.here.available > 0) return null;
  const nearest = nearestWithStock(availability, store);
  const online = availability.online?.available ?? 0;
  return h(
    "section.out-here",
    { "aria-labelledby": "out-here-heading", "data-testid": "out-of-stock-here" },
    h("h2#out-here-heading", t("product.outHere.title", { store: store.name })),
    h("p.out-here-lede", t(nearest || online ? "product.outHere.lede" : "product.outHere.nowhere")),
    h("ul.out-here-options", nearest && nearestOption(nearest), online > 0 && deliverOption(product, online), h("li.out-here-option", notifyControl(product, store))),
  );
}

/** Add-to-cart messages for `wanted` units at the chosen store, or null when the store has them. */
function shortfall(product, wanted, store) {
  const here = product.availability?.here;
  if (!store || !here || here.available >= wanted) return null;
  return { count: here.available, online: product.availability.online?.available ?? 0, store: store.name };
}

function shortText(inCart, short) {
  return short.count === 0 ? t("product.shortNone", short) : t("product.shortSome", { ...short, inCart });
}

function addToCartSection(product, store) {
  const quantity = h("input#add-quantity", { type: "number", min: "1", max: "99", value: "1", inputmode: "numeric" });
  const feedback = h("div.add-feedback", { "aria-live": "polite" });
  const button = h("button.button.button-primary.button-large", { type: "submit", "data-testid": "add-to-cart" }, t("product.addToCart"));
  const hint = h("p.small.add-hint", { "data-testid": "add-hint", "aria-live": "polite" });
  quantity.addEventListener("input", () => {
    const short = shortfall(product, Number(quantity.value) || 1, store);
    hint.textContent = short ? t("product.shortBefore", short) : "";
  });
  const add = async () => {
    replace(feedback);
    try {
      const cart = await cartState.addLine(product.gtin, Math.max(1, Number(quantity.value) || 1));
      const inCart = cart.lines.find((line) => line.product.gtin === product.gtin)?.quantity ?? 0;
      const short = shortfall(product, inCart, store);
      const said = short ? notice("warning", shortText(inCart, short)) : notice("success", t("product.added", { count: cart.totalQuantity }));
      replace(feedback, said, " ", h("a", { href: "#/cart" }, t("product.goToCart")));
    } catch (error) {
      replace(feedback, notice("error", isUnsupported(error) ? t("product.cartUnsupported") : error.message));
    }
  };
  return h(
    "form.add-to-cart",
    { onsubmit: (event) => (event.preventDefault(), busy(button, add)) },
    h("label", { for: "add-quantity" }, t("product.quantity")),
    h("div.input-row", quantity, button),
    hint,
    feedback,
  );
}

/** Up to `limit` products in stock at the store (any, without one), no two with the same label. */
export function inStockDistinct(products, store, limit = SHOWN_SUGGESTIONS) {
  const seen = new Set();
  const kept = [];
  for (const product of products) {
    if (store && !(product.availability?.here?.available > 0)) continue;
    const label = productLabel(product).toLocaleLowerCase();
    if (seen.has(label)) continue;
    seen.add(label);
    kept.push(product);
    if (kept.length >= limit) break;
  }
  return kept;
}

function suggestionList(products) {
  return h(
    "ul.card-list",
    products.map((item) =>
      h(
        "li",
        h(
          "a.product-card",
          { href: `#/product/${item.gtin}`, "data-gtin": item.gtin },
          productPicture(item.imageUrl, "", "sm"),
          h("span.card-body", h("span.card-title", item.name), h("span.card-meta", { "data-testid": "card-meta" }, productMeta(item)), priceView(item.price, item.unitPrice)),
          stockPill(item.availability?.here),
        ),
      ),
    ),
  );
}

async function loadSuggestions(alternatives, complements, gtin, store) {
  try {
    const data = await gql(ALTERNATIVES, { gtin, storeId: store?.id ?? null });
    const goesWith = inStockDistinct(data.product?.complements ?? [], store);
    // What is bought with it is no substitute for it: each product in one list only.
    const together = new Set(goesWith.map((item) => item.gtin));
    const alts = inStockDistinct((data.product?.alternatives ?? []).filter((item) => !together.has(item.gtin)), store);
    if (alts.length) replace(alternatives, h("h2", store ? t("product.alternatives.here", { store: store.name }) : t("product.alternatives.title")), suggestionList(alts));
    else alternatives.remove();
    if (goesWith.length) replace(complements, h("h2", t("product.complements.title")), suggestionList(goesWith));
    else complements.remove();
  } catch (error) {
    // Suggestions are a bonus: a server without them (or offline) just shows none.
    if (!isUnsupported(error)) console.warn("alternatives:", error.message);
    alternatives.remove();
    complements.remove();
  }
  alternatives.removeAttribute("aria-busy");
  complements.removeAttribute("aria-busy");
}

export async function render({ gtin }) {
  const store = session.store();
  let product;
  try {
    product = (await gql(PRODUCT, { gtin, storeId: store?.id ?? null })).product;
  } catch (error) {
    const text = error.code === "INVALID_GTIN" ? t("product.invalidBarcode", { gtin }) : error.code === "OFFLINE" ? t("offline.product", { code: gtin }) : error.message;
    return h("section", heading(t("product.title")), notice("error", text), h("a.button", { href: "#/scan" }, t("product.scanAnother")));
  }
  if (!product) {
    return h("section", heading(t("product.unknown.title")), notice("info", t("product.unknown.body", { gtin })), h("a.button", { href: "#/scan" }, t("product.scanAnother")));
  }
  rememberRecent(product);
  const alternatives = h("section.alternatives", { "aria-busy": "true" });
  const complements = h("section.complements", { "aria-busy": "true", "data-testid": "complements" });
  loadSuggestions(alternatives, complements, product.gtin, store);
  const node = page(product, store, alternatives, complements);
  // Follow the product while the page is open: price, campaign and stock change in place.
  const stop = followProduct(product.gtin, store?.id, PRODUCT_PAGE, (now) => {
    node.querySelector(".product-head .price")?.replaceWith(priceView(now.price, now.unitPrice, { large: true }) ?? "");
    node.querySelector(".campaign-note")?.remove();
    const note = campaignNote(now.price);
    if (note) node.querySelector(".product-head").append(note);
    const wasOut = !(product.availability?.here?.available > 0);
    product.availability = now.availability; // the add-to-cart warning reads it
    node.querySelector("section.availability")?.replaceWith(availabilitySection(now.availability, store));
    // The lead changes only when "none here" does, so an answer being typed is not lost.
    if (wasOut !== !(now.availability?.here?.available > 0)) {
      const lead = outOfStockLead(product, store);
      const old = node.querySelector("section.out-here");
      if (old && lead) old.replaceWith(lead);
      else if (old) old.remove();
      else if (lead) node.querySelector(".product-hero").after(lead);
    }
  });
  return { node, cleanup: stop };
}

function page(product, store, alternatives, complements) {
  return h(
    "article.screen-product",
    { "data-gtin": product.gtin },
    h(
      "div.product-hero",
      productPicture(product.imageUrl, product.name, "lg"),
      h(
        "div.product-head",
        product.brand ? h("p.product-brand", product.brand) : null,
        heading(product.name),
        product.quantity ? h("p.quantity", product.quantity) : null,
        priceView(product.price, product.unitPrice, { large: true }),
        campaignNote(product.price),
      ),
    ),
    outOfStockLead(product, store),
    availabilitySection(product.availability, store),
    addToCartSection(product, store),
    alternatives,
    complements,
    h(
      "section.product-details",
      h("h2", t("product.details")),
      product.description ? h("p", product.description) : null,
      product.categories.length ? h("p.categories", product.categories.join(" › ")) : null,
      h(
        "figure.barcode",
        h("img", { src: product.barcodeUrl, alt: t("product.barcodeAlt", { gtin: product.gtin }), width: "240", height: "120", "data-testid": "barcode-image" }),
      ),
    ),
    h("p", h("a.button.button-ghost", { href: "#/scan" }, t("product.scanAnother"))),
  );
}
