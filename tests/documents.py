"""GraphQL documents more than one test module sends, each defined once.

A test module keeps a document of its own when it asks for fields only it pins; the
documents here are the everyday steps (create a cart, add lines, sign in, check out …)
that factories and tests share.
"""

from __future__ import annotations

CART_CREATE = """
mutation CartCreate($input: CartCreateInput) {
  cartCreate(input: $input) { cart { id version } cartToken errors { code } }
}
"""
ADD_LINES = """
mutation Add($input: CartLinesAddInput!) {
  cartLinesAdd(input: $input) {
    cart { id version lines { id quantity } } replayed errors { code }
  }
}
"""
CART = "query Cart($id: ID!) { cart(id: $id) { id version lines { quantity } } }"
SIGN_UP = """
mutation SignUp($input: CustomerSignUpInput!) {
  customerSignUp(input: $input) { token cart { id version } errors { code field message } }
}
"""
CUSTOMER_SIGN_IN = """
mutation SignIn($input: CustomerSignInInput!) {
  customerSignIn(input: $input) { token errors { code } }
}
"""
CHECKOUT = """
mutation Checkout($input: CheckoutInput!) {
  checkout(input: $input) {
    order { id number status version lines { id quantity } } errors { code message }
  }
}
"""
HANDOFF_CREATE = """
mutation Handoff($input: CartHandoffCreateInput!) {
  cartHandoffCreate(input: $input) { code errors { code } }
}
"""
HANDOFF_CLAIM = """
mutation Claim($input: CartHandoffClaimInput!) {
  cartHandoffClaim(input: $input) { cart { id version } errors { code } }
}
"""
STAFF_SIGN_IN = """
mutation StaffSignIn($input: StaffSignInInput!) {
  staffSignIn(input: $input) { token errors { code } }
}
"""
SCAN = """
mutation Scan($input: ScanInput!) {
  scan(input: $input) { product { name } gtin errors { code field message } }
}
"""
STORES = "{ stores { code } }"
INTROSPECTION = "{ __schema { queryType { name } } }"
