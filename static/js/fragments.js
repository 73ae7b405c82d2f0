// GraphQL selections shared by screens, so every screen asks for a product or cart alike.

export const PRICE = `price { regular { amount currency formatted } current { amount currency formatted } campaign { name startsAt endsAt } }`;

export const PRODUCT_CARD = `id gtin name brand quantity imageUrl ${PRICE}`;

export const PRODUCT_PAGE = `
  id gtin gtins name brand description categories quantity imageUrl barcodeUrl
  ${PRICE}
  unitPrice { price { amount currency } unit }
  availability(storeId: $storeId) {
    here { available status store { id name } }
    online { available status }
    stores { available status store { id code name city } }
  }`;

export const CART = `
  id version totalQuantity updatedAt
  subtotal { amount currency formatted }
  customer { id name email }
  lines {
    id quantity
    unitPrice { amount currency formatted }
    lineTotal { amount currency formatted }
    product { ${PRODUCT_CARD} }
  }`;

// The shopper's cart: each line's product with its stock at the chosen store, online and in
// the other stores (the cart and checkout show it and offer fixes when short), and the lines
// a kiosk ordered from it (shown as ordered, with the order's number).
export const SHOPPER_CART = `${CART}
  orderedLines { orderId orderNumber orderStatus fulfilment name gtin quantity }
  lines {
    id
    product {
      id
      availability(storeId: $storeId) {
        here { available }
        online { available }
        stores { available store { id name } }
      }
    }
  }`;
