// Choose my store: prices are the same everywhere, but stock "here" and click-and-collect
// follow the store the shopper picks. Remembered on the device.

import { gql } from "../api.js";
import { h, heading, notice } from "../dom.js";
import { t } from "../i18n.js";
import { navigate } from "../router.js";
import * as session from "../session.js";

const STORES = `query Stores { stores { id code name address city } }`;

/** Fetch every store (cached by the service worker for offline use). */
export async function fetchStores() {
  return (await gql(STORES)).stores;
}

export async function render(_params, query) {
  const next = query.get("next") || "/scan";
  const chosen = session.store();
  let stores;
  try {
    stores = await fetchStores();
  } catch (error) {
    return h("section", heading(t("stores.title")), notice("error", error.message));
  }
  const list = h(
    "ul.store-list",
    { role: "list" },
    stores.map((store) =>
      h(
        "li",
        h(
          "button.store-option",
          {
            type: "button",
            "aria-pressed": String(chosen?.id === store.id),
            "data-store-code": store.code,
            onclick: () => {
              session.set({ store: { id: store.id, name: store.name, code: store.code } });
              navigate(next);
            },
          },
          h("span.store-name", store.name),
          h("span.store-address", [store.address, store.city].filter(Boolean).join(", ")),
          chosen?.id === store.id ? h("span.pill.pill-in-stock", t("stores.yours")) : null,
        ),
      ),
    ),
  );
  return h(
    "section.screen-stores",
    heading(t("stores.title")),
    h("p.lede", t("stores.lede")),
    stores.length ? list : notice("info", t("stores.none")),
  );
}
