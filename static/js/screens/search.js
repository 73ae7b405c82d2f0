// Search as you type, with brand and category facets, "in stock here" and sorting.
// The filters live in the hash (#/search?q=…&brand=…) so a search can be shared and reloaded.

import { gql, isUnsupported } from "../api.js";
import { h, heading, notice, replace, stockPill } from "../dom.js";
import { PRODUCT_CARD } from "../fragments.js";
import * as session from "../session.js";
import { priceView, productPicture } from "../product-view.js";

const SEARCH = `query Search($query: String!, $filter: SearchFilter, $first: Int!, $after: String, $sort: SearchSort!, $storeId: ID) {
  search(query: $query, filter: $filter, first: $first, after: $after, sort: $sort) {
    totalCount processingTimeMs
    pageInfo { hasNextPage endCursor }
    facets { name values { value count } }
    edges { cursor highlight node { ${PRODUCT_CARD} availability(storeId: $storeId) { here { available status } } } }
  }
}`;
const PAGE_SIZE = 20;
const DEBOUNCE_MS = 180;
const FACET_LABELS = { brand: "Brand", category: "Category" };
const FACET_PARAM = { brand: "brand", category: "category" };
const SORTS = [
  ["RELEVANCE", "Best match"],
  ["PRICE_ASC", "Price, low to high"],
  ["PRICE_DESC", "Price, high to low"],
  ["NAME", "Name"],
];

// The screen's words, in one place for a later message catalog.
const TEXT = {
  nothing: (q) => `Nothing matches “${q}”. Try fewer words, or scan the barcode.`,
  nothingFiltered: (q, n) => `Nothing matches “${q}” with ${n === 1 ? "this filter" : `these ${n} filters`}.`,
  dropFilters: "Search without filters",
  clearAll: "Clear all",
  activeFilters: "Active filters",
  remove: (label) => `Remove filter ${label}`,
  inStock: (name) => `In stock at ${name}`,
};

/** The filters in force, each with a label and a way to drop it from `state`. */
function activeFilters(state, store) {
  const dropFrom = (key, value) => () => (state[key] = state[key].filter((v) => v !== value));
  return [
    ...state.brands.map((b) => ({ label: `${FACET_LABELS.brand}: ${b}`, drop: dropFrom("brands", b) })),
    ...state.categories.map((c) => ({ label: `${FACET_LABELS.category}: ${c}`, drop: dropFrom("categories", c) })),
    ...(state.inStock && store ? [{ label: TEXT.inStock(store.name), drop: () => (state.inStock = false) }] : []),
  ];
}

function clearFilters(state) {
  state.brands = [];
  state.categories = [];
  state.inStock = false;
}

/** The name with the engine's <mark> highlights, keeping nothing else of its HTML. */
function highlighted(html, fallback) {
  if (!html) return fallback;
  const template = document.createElement("template");
  template.innerHTML = html;
  const out = [];
  for (const node of template.content.childNodes) {
    if (node.nodeType === Node.TEXT_NODE) out.push(node.textContent);
    else if (node.nodeName === "MARK") out.push(h("mark", node.textContent));
    else out.push(node.textContent);
  }
  return out;
}

function stateFromHash(query) {
  return {
    q: query.get("q") || "",
    brands: query.getAll("brand"),
    categories: query.getAll("category"),
    inStock: query.get("stock") === "1",
    sort: query.get("sort") || "RELEVANCE",
  };
}

function writeHash(state) {
  const params = new URLSearchParams();
  if (state.q) params.set("q", state.q);
  state.brands.forEach((b) => params.append("brand", b));
  state.categories.forEach((c) => params.append("category", c));
  if (state.inStock) params.set("stock", "1");
  if (state.sort !== "RELEVANCE") params.set("sort", state.sort);
  const text = params.toString();
  history.replaceState(null, "", `#/search${text ? "?" + text : ""}`);
}

function resultCard(edge) {
  const product = edge.node;
  return h(
    "li",
    h(
      "a.product-card",
      { href: `#/product/${product.gtin}`, "data-gtin": product.gtin },
      productPicture(product.imageUrl, "", "sm"),
      h("span.card-body", h("span.card-title", highlighted(edge.highlight, product.name)), h("span.card-meta", [product.brand, product.quantity].filter(Boolean).join(" · ")), priceView(product.price)),
      product.availability?.here ? stockPill(product.availability.here) : null,
    ),
  );
}

export async function render(_params, query) {
  const store = session.store();
  const state = stateFromHash(query);
  const input = h("input#search-input", { type: "search", value: state.q, autocomplete: "off", enterkeyhint: "search", placeholder: "Name, brand, category or barcode", "aria-controls": "search-results" });
  const inStock = h("input#search-in-stock", { type: "checkbox", checked: state.inStock });
  const sort = h("select#search-sort", SORTS.map(([value, label]) => h("option", { value, selected: value === state.sort ? "" : null }, label)));
  const facets = h("div.facets", { hidden: true });
  const chips = h("div.active-filters", { "data-testid": "active-filters", role: "group", "aria-label": TEXT.activeFilters, hidden: true });
  const afterFilterChange = () => {
    inStock.checked = state.inStock;
    run();
  };
  function renderChips() {
    const active = activeFilters(state, store);
    chips.hidden = active.length === 0;
    replace(
      chips,
      active.map((filter) =>
        h("button.chip", { type: "button", "aria-label": TEXT.remove(filter.label), onclick: () => { filter.drop(); afterFilterChange(); } }, filter.label, h("span", { "aria-hidden": "true" }, " ×")),
      ),
      active.length > 1 ? h("button.button.button-ghost.button-small", { type: "button", "data-testid": "clear-filters", onclick: () => { clearFilters(state); afterFilterChange(); } }, TEXT.clearAll) : null,
    );
  }
  const summary = h("p.result-count", { role: "status", "aria-live": "polite" });
  const results = h("ul#search-results.card-list", { "data-testid": "search-results" });
  const more = h("button.button.button-block", { type: "button", hidden: true }, "Show more");
  let controller = null;
  let timer = null;
  let cursor = null;
  const openFacets = new Set(); // facet panels the shopper opened stay open across updates

  async function run({ append = false } = {}) {
    controller?.abort();
    writeHash(state);
    renderChips();
    // An empty query with a filter (a category from the shop front) lists what the filter holds.
    if (!state.q.trim() && !activeFilters(state, store).length) {
      replace(results);
      replace(facets);
      facets.hidden = true;
      summary.textContent = "Type to search the whole range.";
      more.hidden = true;
      return;
    }
    controller = new AbortController();
    const filter = {
      brands: state.brands.length ? state.brands : null,
      categories: state.categories.length ? state.categories : null,
      inStockAt: state.inStock && store ? store.id : null,
    };
    try {
      const { search } = await gql(
        SEARCH,
        { query: state.q, filter, first: PAGE_SIZE, after: append ? cursor : null, sort: state.sort, storeId: store?.id ?? null },
        { signal: controller.signal },
      );
      cursor = search.pageInfo.endCursor;
      more.hidden = !search.pageInfo.hasNextPage;
      summary.textContent = `${search.totalCount} product${search.totalCount === 1 ? "" : "s"}`;
      const cards = search.edges.map(resultCard);
      if (append) results.append(...cards);
      else replace(results, cards.length ? cards : h("li", nothingFound()));
      if (!append) renderFacets(search.facets);
    } catch (error) {
      if (error.name === "AbortError") return;
      summary.textContent = "";
      const text = isUnsupported(error)
        ? "Search is not available on this server yet. Scan a barcode instead."
        : error.code === "SEARCH_UNAVAILABLE"
          ? "Search is down for a moment. Scanning still works."
          : error.message;
      replace(results, h("li", notice("error", text)));
      replace(facets);
      facets.hidden = true;
      more.hidden = true;
    }
  }

  /** "Nothing matches", with the way out when filters are on. */
  function nothingFound() {
    const active = activeFilters(state, store);
    if (!active.length) return notice("info", TEXT.nothing(state.q));
    return h(
      "div",
      notice("info", TEXT.nothingFiltered(state.q, active.length)),
      h("button.button", { type: "button", "data-testid": "drop-filters", onclick: () => { clearFilters(state); afterFilterChange(); } }, TEXT.dropFilters),
    );
  }

  function renderFacets(list) {
    const shown = list.filter((facet) => facet.values.length);
    // An empty panel takes no room (it would stretch its neighbour).
    facets.hidden = shown.length === 0;
    replace(
      facets,
      shown
        .map((facet) => {
          const key = facet.name === "brand" ? "brands" : "categories";
          const chosen = state[key];
          const details = h("details", { open: chosen.length || openFacets.has(facet.name) ? "" : null });
          details.addEventListener("toggle", () => (details.open ? openFacets.add(facet.name) : openFacets.delete(facet.name)));
          details.append(
            h("summary", `${FACET_LABELS[facet.name] ?? facet.name}${chosen.length ? ` (${chosen.length})` : ""}`),
            h(
              "div.facet-values",
              { role: "group", "aria-label": FACET_LABELS[facet.name] ?? facet.name },
              facet.values.slice(0, 12).map((value) => {
                const id = `facet-${FACET_PARAM[facet.name] ?? facet.name}-${value.value}`.replace(/[^A-Za-z0-9_-]/g, "_");
                return h(
                  "label.choice",
                  { for: id },
                  h(`input#${id}`, {
                    type: "checkbox",
                    checked: chosen.includes(value.value),
                    onchange: (event) => {
                      state[key] = event.target.checked ? [...chosen, value.value] : chosen.filter((v) => v !== value.value);
                      run();
                    },
                  }),
                  `${value.value} (${value.count})`,
                );
              }),
            ),
          );
          return details;
        }),
    );
  }

  input.addEventListener("input", () => {
    state.q = input.value;
    clearTimeout(timer);
    timer = setTimeout(run, DEBOUNCE_MS);
  });
  inStock.addEventListener("change", () => {
    state.inStock = inStock.checked;
    run();
  });
  sort.addEventListener("change", () => {
    state.sort = sort.value;
    run();
  });
  more.addEventListener("click", () => run({ append: true }));
  run();

  return {
    node: h(
      "section.screen-search",
      heading("Search"),
      h(
        "div.search-box",
        { role: "search" },
        h("label", { for: "search-input" }, "Search products"),
        input,
        h(
          "div.input-row.search-options",
          store ? h("label.choice", { for: "search-in-stock" }, inStock, TEXT.inStock(store.name)) : null,
          h("label.visually-hidden", { for: "search-sort" }, "Sort by"),
          sort,
        ),
      ),
      chips,
      facets,
      summary,
      results,
      more,
    ),
    cleanup: () => {
      clearTimeout(timer);
      controller?.abort();
    },
  };
}
