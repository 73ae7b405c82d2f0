// One message catalog for every screen: t(messageKey, vars) in the shopper's language.
// The language is the one chosen with the switch (remembered on the device), else the first
// of the browser's languages we ship (nb for Norwegian Bokmål, Nynorsk or "no"), else English.
// Money, numbers and dates go through Intl in the same locale. Requests carry it as
// Accept-Language so the server's messages (errors, notifications) speak it too.
//
// A page loads the one catalog it speaks (a top-level await: modules that import this one
// start once it is there); the switch loads the other on first use. Both hold the same keys
// (tests/test_messages.py), so nothing falls back to another language.

const CATALOGS = {
  en: () => import("./messages/en.js"),
  nb: () => import("./messages/nb.js"),
};
const STORAGE_KEY = "omnicart.locale";
/** The languages shipped, in the order the switch shows them. */
export const LOCALES = [
  { code: "nb", name: "Norsk bokmål" },
  { code: "en", name: "English" },
];
const TAGS = { nb: "nb-NO", en: "en-GB" };
const listeners = new Set();
let current = pick();
// A page's own messages (addMessages: the kiosk's, the staff page's), by language.
const PAGE_MESSAGES = { en: {}, nb: {} };
let messages = (await CATALOGS[current]()).default;

function pick() {
  let chosen = null;
  try {
    chosen = localStorage.getItem(STORAGE_KEY);
  } catch {
    chosen = null;
  }
  if (chosen && CATALOGS[chosen]) return chosen;
  for (const tag of navigator.languages?.length ? navigator.languages : [navigator.language || "en"]) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (base === "nb" || base === "nn" || base === "no") return "nb";
    if (CATALOGS[base]) return base;
  }
  return "en";
}

/**
 * Add a page's own messages ({en: {...}, nb: {...}}): the kiosk and staff pages bring theirs,
 * so the shopper page never loads them. Call before rendering.
 */
export function addMessages(byLanguage) {
  for (const [code, added] of Object.entries(byLanguage)) Object.assign(PAGE_MESSAGES[code], added);
  messages = { ...messages, ...PAGE_MESSAGES[current] };
}

/** The current language code ("nb" or "en"). */
export function locale() {
  return current;
}

/** The BCP 47 tag Intl formats with ("nb-NO", "en-GB"). */
export function localeTag() {
  return TAGS[current] || current;
}

/** The Accept-Language header value requests send. */
export function acceptLanguage() {
  return current === "en" ? "en, nb;q=0.5" : `${current}, en;q=0.5`;
}

/**
 * Switch the language (loading its catalog), remember it, set <html lang> and tell every
 * listener; resolves once that is done.
 */
export async function setLocale(code) {
  if (!CATALOGS[code]) throw new Error(`No messages for the language ${code}`);
  messages = { ...(await CATALOGS[code]()).default, ...PAGE_MESSAGES[code] };
  current = code;
  try {
    localStorage.setItem(STORAGE_KEY, code);
  } catch {
    // Private mode: the choice lasts for this page.
  }
  applyLang();
  for (const listener of listeners) listener(code);
}

/** Call `listener(code)` when the language changes; returns the unsubscribe function. */
export function onLocale(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Set <html lang> to the current language. */
export function applyLang() {
  document.documentElement.lang = current;
}

/**
 * The message for a key in the current language, with {name} placeholders filled from `vars`.
 * A key may hold plural forms ({one, other}); `vars.count` chooses with Intl.PluralRules.
 * A key missing from the catalog is shown as it is and reported (tests fail on it).
 */
export function t(key, vars = {}) {
  let message = messages[key];
  if (message === undefined) {
    console.error(`untranslated message key: ${key}`);
    return key;
  }
  if (typeof message === "object") {
    const form = new Intl.PluralRules(localeTag()).select(Number(vars.count ?? 0));
    message = message[form] ?? message.other;
  }
  return message.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

const moneyFormats = new Map();

/**
 * A Money value ({amount, currency}; the amount in minor units, øre or cents, as the API
 * sends it) formatted for the current language: 2490 NOK is "24,90 kr" in nb, "NOK 24.90" in en.
 */
export function money(value) {
  if (!value) return "";
  const key = `${localeTag()}|${value.currency}`;
  let format = moneyFormats.get(key);
  if (!format) {
    format = new Intl.NumberFormat(localeTag(), { style: "currency", currency: value.currency });
    moneyFormats.set(key, format);
  }
  return format.format(Number(value.amount) / 10 ** format.resolvedOptions().maximumFractionDigits);
}

/** A number formatted for the current language. */
export function number(value, options = {}) {
  return new Intl.NumberFormat(localeTag(), options).format(value);
}

/** A date (ISO string or Date) formatted for the current language; `options` as Intl.DateTimeFormat. */
export function date(value, options = { dateStyle: "medium" }) {
  return new Intl.DateTimeFormat(localeTag(), options).format(value instanceof Date ? value : new Date(value));
}

/** A date and time, short. */
export function dateTime(value) {
  return date(value, { dateStyle: "medium", timeStyle: "short" });
}

applyLang();
