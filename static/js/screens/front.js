// The shop front (start page): search, the store's offers, categories (#/?stock=1: in stock
// here), what this device viewed. Sections load apart; one failing never blanks the others.

import { gql, isUnsupported } from "../api.js";
import { date, money, t } from "../i18n.js";
import { h, heading, notice, replace } from "../dom.js";
import { navigate } from "../router.js";
import * as session from "../session.js";
import { productPicture } from "../product-view.js";

const PAGE_PRICE = `price { regular { amount currency } current { amount currency } member { amount currency } campaign { name endsAt } }`;

const OFFERS = `query FrontOffers($storeId: ID!, $first: Int!, $after: String) {
  campaignProducts(storeId: $storeId, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { node { gtin name brand quantity imageUrl ${PAGE_PRICE} } }
  }
}`;

const CATEGORIES = `query FrontCategories($inStockAt: ID) {
  categories(inStockAt: $inStockAt, first: 24) { name productCount }
}`;
const OFFERS_PAGE = 12;

function failure(error) {
  return notice("error", isUnsupported(error) ? t("front.unsupported") : t("front.loadFailed", { message: error.message }));
}

// The campaign price with the regular one struck through; a members' offer says who pays it.
function offerPrice({ campaign, current, regular, member }) {
  return h(
    "div.price",
    h(`span.price-current${campaign ? ".price-campaign" : ""}`, { "data-testid": "offer-price" }, money(current)),
    campaign ? h("s.price-regular", h("span.visually-hidden", t("front.regularPrice")), " ", money(regular)) : null,
    !campaign && member ? h("span.member-price", t("front.memberPrice", { price: money(member) })) : null,
  );
}

function offerCard(product) {
  const { campaign } = product.price;
  return h(
    "li",
    h(
      "a.offer-card",
      { href: `#/product/${product.gtin}`, "data-gtin": product.gtin },
      productPicture(product.imageUrl, "", "md"),
      h(
        "span.offer-body",
        campaign ? h("span.campaign-name", campaign.name) : h("span.campaign-name.is-members", t("front.membersOffer")),
        h("span.card-title", product.name),
        h("span.card-meta", [product.brand, product.quantity].filter(Boolean).join(" · ")),
        offerPrice(product.price),
        campaign?.endsAt ? h("span.small", t("front.endsOn", { date: date(campaign.endsAt, { weekday: "short", day: "numeric", month: "short" }) })) : null,
      ),
    ),
  );
}

// A landmark named by its heading.
function section(name, title, ...children) {
  return h(`section.front-${name}`, { "aria-labelledby": `front-${name}-title` }, h(`h2#front-${name}-title`, title), ...children);
}

function offersSection(store) {
  const list = h("ul.offer-grid", { "data-testid": "front-offers" });
  const status = h("div");
  const more = h("button.button.button-ghost", { type: "button", hidden: true }, t("front.moreOffers"));
  let cursor = null;
  async function load() {
    more.disabled = true;
    try {
      const { campaignProducts } = await gql(OFFERS, { storeId: store.id, first: OFFERS_PAGE, after: cursor });
      list.append(...campaignProducts.edges.map((edge) => offerCard(edge.node)));
      cursor = campaignProducts.pageInfo.endCursor;
      more.hidden = !campaignProducts.pageInfo.hasNextPage;
      replace(status, list.children.length ? null : notice("info", t("front.noOffers", { store: store.name })));
    } catch (error) {
      replace(status, failure(error));
      more.hidden = true;
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener("click", load);
  load();
  return section("offers", t("front.offers"), h("p.lede", t("front.offersLede", { store: store.name })), list, status, more);
}

function categoriesSection(store, inStockInitially) {
  const list = h("ul.category-list", { "data-testid": "front-categories", "aria-busy": "true" });
  const toggle = h("input#front-in-stock", { type: "checkbox", checked: inStockInitially });
  let ticket = 0;
  async function load() {
    const mine = ++ticket;
    const inStock = toggle.checked;
    history.replaceState(null, "", inStock ? "#/?stock=1" : "#/");
    list.setAttribute("aria-busy", "true");
    try {
      const { categories } = await gql(CATEGORIES, { inStockAt: inStock ? store.id : null });
      if (mine !== ticket) return;
      replace(
        list,
        categories.length
          ? categories.map((category) =>
              h(
                "li",
                h(
                  "a.category-link",
                  { href: `#/search?${new URLSearchParams({ category: category.name, ...(inStock && { stock: 1 }) })}` },
                  h("span.category-name", category.name),
                  h("span.category-count", t("front.productCount", { count: category.productCount })),
                ),
              ),
            )
          : h("li", notice("info", t("front.noCategories"))),
      );
    } catch (error) {
      if (mine === ticket) replace(list, h("li", failure(error)));
    } finally {
      if (mine === ticket) list.removeAttribute("aria-busy");
    }
  }
  toggle.addEventListener("change", load);
  load();
  return section("categories", t("front.categories"), h("label.choice", { for: "front-in-stock" }, toggle, t("front.inStockOnly", { store: store.name })), list);
}

// Remembered by the product page (scan.js rememberRecent): offline, no request.
function recentSection() {
  const recent = session.get("recent") || [];
  const link = (p) => h("li", h("a", { href: `#/product/${p.gtin}`, "data-gtin": p.gtin }, p.name));
  return section(
    "recent",
    t("front.recent"),
    recent.length ? h("ul.link-list", { "data-testid": "front-recent" }, recent.map(link)) : h("p.help", t("front.noRecent")),
  );
}

function searchForm() {
  const input = h("input#front-search", { type: "search", autocomplete: "off", enterkeyhint: "search", placeholder: t("front.searchPlaceholder") });
  return h(
    "form.front-search",
    {
      role: "search",
      onsubmit: (event) => {
        event.preventDefault();
        navigate(`/search?${new URLSearchParams({ q: input.value.trim() })}`);
      },
    },
    h("label", { for: "front-search" }, t("front.searchLabel")),
    h("div.input-row", input, h("button.button.button-primary", { type: "submit" }, t("front.searchButton"))),
  );
}

export async function render(_params, query) {
  const store = session.store();
  if (!store) {
    navigate("/stores?next=/", { replace: true });
    return h("p.loading", t("nav.loading"));
  }
  return h(
    "section.screen-front",
    h(
      "div.front-head",
      heading(t("front.title", { store: store.name })),
      h("p.lede", h("a", { href: "#/stores?next=/" }, t("front.changeStore")), " · ", h("a", { href: "#/scan" }, t("front.scan"))),
      searchForm(),
    ),
    offersSection(store),
    h("div.front-side", categoriesSection(store, query.get("stock") === "1"), recentSection()),
  );
}
