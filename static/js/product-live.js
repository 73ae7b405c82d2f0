// Products followed live: `productUpdated` sends a product now and again after every
// committed change of its price, campaign or stock, so an open page follows the shelf
// ("1 left here" turns into "Out of stock here" while the shopper looks at it).

import { subscribe } from "./live.js";

const FOLLOW = (fields) =>
  `subscription ProductUpdated($gtin: String!, $storeId: ID) { productUpdated(gtin: $gtin, storeId: $storeId) { ${fields} } }`;

/** Call `onProduct(product)` with each state of one product; returns unsubscribe. */
export function followProduct(gtin, storeId, fields, onProduct) {
  return subscribe(FOLLOW(fields), { gtin, storeId: storeId ?? null }, {
    onData: (data) => onProduct(data.productUpdated),
    onError: (error) => console.warn("product updates stopped:", error.message),
  });
}

/**
 * Call `onChange()` after any of these products changes (not for the state each sends
 * first); changes close together are one call. Returns unsubscribe.
 */
export function followProducts(gtins, storeId, onChange) {
  let timer = null;
  const stops = [...new Set(gtins)].map((gtin) => {
    let first = true;
    return followProduct(gtin, storeId, "id", () => {
      if (first) {
        first = false;
        return;
      }
      clearTimeout(timer);
      timer = setTimeout(onChange, 50);
    });
  });
  return () => {
    clearTimeout(timer);
    for (const stop of stops) stop();
  };
}
