// Sign in / sign up (the guest cart comes along and is merged), and signing out.

import { gql, isUnsupported, payload } from "../api.js";
import * as cartState from "../cart-state.js";
import { busy, h, heading, notice, replace } from "../dom.js";
import { LOCALES, locale, setLocale, t } from "../i18n.js";
import { reconnect } from "../live.js";
import { clearSavedData } from "../pwa.js";
import { navigate } from "../router.js";
import * as session from "../session.js";
import { CART } from "../fragments.js";
import { clubSection, signUpClubFields, signUpClubInput } from "./club.js";

const SESSION_FIELDS = `token expiresAt customer { id email name phone } cart { ${CART} } errors { code field message }`;
const SIGN_IN = `mutation CustomerSignIn($input: CustomerSignInInput!) { customerSignIn(input: $input) { ${SESSION_FIELDS} } }`;
const SIGN_UP = `mutation CustomerSignUp($input: CustomerSignUpInput!) { customerSignUp(input: $input) { ${SESSION_FIELDS} } }`;
const SIGN_OUT = `mutation CustomerSignOut { customerSignOut { endedSessions errors { code field message } } }`;
const PREFERENCES = `mutation CustomerPreferencesUpdate($input: CustomerPreferencesUpdateInput!) { customerPreferencesUpdate(input: $input) { customer { id } errors { code field message } } }`;

/**
 * The language switch: one button per shipped language, named in its own language. The
 * choice is remembered on the device, and the router shows the screen again in it; a
 * signed-in customer's messages (order mail, SMS, push) follow it too.
 */
function languageSwitch() {
  const choose = async (code) => {
    if (code === locale()) return;
    await setLocale(code);
    if (!session.get("authToken") || !session.get("customer")) return;
    try {
      payload((await gql(PREFERENCES, { input: { language: code, favouriteStoreId: session.store()?.id ?? null } })).customerPreferencesUpdate);
    } catch (error) {
      console.warn("language preference not saved:", error.message);
    }
  };
  return h(
    "div.language-switch",
    { role: "group", "aria-labelledby": "language-switch-label", "data-testid": "language-switch" },
    h("span#language-switch-label.small", t("lang.switch")),
    " ",
    LOCALES.map(({ code, name }) =>
      h("button.button.button-small", { type: "button", lang: code, "data-locale": code, "aria-pressed": String(code === locale()), onclick: () => choose(code) }, name),
    ),
  );
}

async function startSession(result, next) {
  const guestCart = session.get("cart");
  session.set({ authToken: result.token, customer: result.customer, cart: result.cart ? { id: result.cart.id } : null });
  if (result.cart) await cartState.adopt(result.cart);
  else {
    cartState.forget();
    await reconnect();
  }
  navigate(next);
  return guestCart;
}

function field(id, label, attrs) {
  return h("div.field", h("label", { for: id }, label), h(`input#${id}`, attrs));
}

// The guest cart to bring along: one this device holds with its token, not a customer's.
function guestCartId() {
  return session.get("cart")?.token ? session.get("cart").id : null;
}

// A sign-in or sign-up form: `send` posts the form's data, and the session it answers starts
// (taking `next`); a refusal shows in `feedback`.
function accountForm(id, title, submit, send, next, feedback, fields) {
  const form = h(
    "form.account-form",
    {
      "aria-labelledby": `${id}-heading`,
      onsubmit: (event) => {
        event.preventDefault();
        busy(submit, async () => {
          replace(feedback);
          const data = new FormData(form);
          try {
            await startSession(payload(await send(data)), next);
          } catch (error) {
            replace(feedback, notice("error", error.message));
          }
        });
      },
    },
    h(`h2#${id}-heading`, title),
    ...fields,
    submit,
  );
  return form;
}

function signInForm(next, feedback) {
  const submit = h("button.button.button-primary.button-block", { type: "submit" }, t("account.signIn"));
  const send = async (data) =>
    (await gql(SIGN_IN, { input: { email: data.get("email"), password: data.get("password"), cartId: guestCartId() } })).customerSignIn;
  return accountForm("sign-in", t("account.signIn"), submit, send, next, feedback, [
    field("signin-email", t("account.email"), { type: "email", name: "email", autocomplete: "username", required: true }),
    field("signin-password", t("account.password"), { type: "password", name: "password", autocomplete: "current-password", required: true }),
  ]);
}

function signUpForm(next, feedback) {
  const submit = h("button.button.button-block", { type: "submit" }, t("account.createAccount"));
  const send = async (data) =>
    (
      await gql(SIGN_UP, {
        input: {
          email: data.get("email"),
          password: data.get("password"),
          name: data.get("name") || null,
          phone: data.get("phone") || null,
          cartId: guestCartId(),
          ...signUpClubInput(data),
        },
      })
    ).customerSignUp;
  return accountForm("sign-up", t("account.signUpTitle"), submit, send, next, feedback, [
    field("signup-name", t("account.name"), { type: "text", name: "name", autocomplete: "name" }),
    field("signup-email", t("account.email"), { type: "email", name: "email", autocomplete: "email", required: true }),
    field("signup-phone", t("account.phone"), { type: "tel", name: "phone", autocomplete: "tel" }),
    field("signup-password", t("account.newPassword"), { type: "password", name: "password", autocomplete: "new-password", minlength: "8", required: true }),
    signUpClubFields(),
  ]);
}

async function signOut() {
  try {
    await gql(SIGN_OUT);
  } catch (error) {
    if (!isUnsupported(error)) console.warn("sign-out:", error.message);
  }
  await signedOut();
}

// Forget the session on this device (after signing out, or once the account is deleted).
async function signedOut() {
  session.set({ authToken: null, customer: null });
  cartState.forget();
  await clearSavedData();
  await reconnect();
  navigate("/account", { replace: true });
}

export async function render(_params, query) {
  const next = query.get("next") || "/cart";
  const feedback = h("div", { "aria-live": "assertive" });
  const customer = session.get("customer");
  if (session.get("authToken") && customer) {
    const out = h("button.button.button-ghost", { type: "button", onclick: () => busy(out, signOut) }, t("account.signOut"));
    return h(
      "section.screen-account",
      heading(t("account.title")),
      h("p", t("account.signedInAs"), " ", h("strong", { "data-testid": "signed-in-as" }, customer.name || customer.email), customer.name ? ` (${customer.email})` : ""),
      h("p.small", t("account.sameCart")),
      h("ul.link-list", h("li", h("a", { href: "#/cart" }, t("account.yourCart"))), h("li", h("a", { href: "#/orders" }, t("account.yourOrders")))),
      clubSection(signedOut),
      languageSwitch(),
      out,
    );
  }
  const hasGuestCart = Boolean(cartState.currentCart()?.lines?.length);
  return h(
    "section.screen-account",
    heading(t("account.guestTitle")),
    hasGuestCart ? h("p.lede", t("account.cartComesAlong")) : null,
    feedback,
    signInForm(next, feedback),
    signUpForm(next, feedback),
    languageSwitch(),
  );
}
