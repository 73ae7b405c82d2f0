// The club on the account screen: the member card (Code 128 and QR), points, joining with
// the three consents, and the customer's own data (download, delete the account).

import { gql, payload } from "../api.js";
import { busy, h, notice, replace } from "../dom.js";
import { number, t } from "../i18n.js";
import * as session from "../session.js";

const MEMBERSHIP = `query ClubMembership { me { id membership { number points joinedAt barcodeUrl qrUrl } } }`;
const JOIN = `mutation ClubJoin($input: ClubJoinInput!) { clubJoin(input: $input) { membership { number points joinedAt barcodeUrl qrUrl } errors { code field message } } }`;
const POINTS = `query ClubPoints { me { id membership { points } } }`;
const EXPORT = `query CustomerDataExport { customerDataExport }`;
const DELETE = `mutation CustomerDelete($input: CustomerDeleteInput!) { customerDelete(input: $input) { deleted ordersKept errors { code field message } } }`;

function memberCard(membership) {
  return h(
    "div.member-card",
    { "data-testid": "member-card" },
    h("h2", t("club.cardTitle")),
    h("p", t("club.points"), " ", h("strong", { "data-testid": "member-points" }, number(membership.points))),
    h("img.member-barcode", { src: membership.barcodeUrl, alt: t("club.barcodeAlt", { number: membership.number }) }),
    h("img.member-qr", { src: membership.qrUrl, alt: t("club.qrAlt", { number: membership.number }), width: "160", height: "160" }),
    h("p.small", { "data-testid": "member-number" }, membership.number),
  );
}

function consent(name, label, required) {
  return h("div.field", h("label", h("input", { type: "checkbox", name, required }), " ", label));
}

function joinForm(box, feedback) {
  const submit = h("button.button.button-primary", { type: "submit" }, t("club.join"));
  const form = h(
    "form.club-join",
    {
      onsubmit: (event) => {
        event.preventDefault();
        busy(submit, async () => {
          const data = new FormData(form);
          const consents = {
            clubTerms: data.get("clubTerms") === "on",
            marketingEmail: data.get("marketingEmail") === "on",
            marketingSms: data.get("marketingSms") === "on",
          };
          try {
            const joined = payload((await gql(JOIN, { input: { consents } })).clubJoin);
            replace(box, memberCard(joined.membership));
          } catch (error) {
            replace(feedback, notice("error", error.message));
          }
        });
      },
    },
    h("h2", t("club.join")),
    h("p.small", t("club.pitch")),
    consent("clubTerms", t("club.terms"), true),
    consent("marketingEmail", t("club.offersEmail"), false),
    consent("marketingSms", t("club.offersSms"), false),
    submit,
  );
  return form;
}

async function download(feedback) {
  try {
    const data = (await gql(EXPORT)).customerDataExport;
    const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
    const link = h("a", { href: URL.createObjectURL(blob), download: "my-data.json" });
    link.click();
  } catch (error) {
    replace(feedback, notice("error", error.message));
  }
}

async function deleteAccount(feedback, signedOut) {
  const email = window.prompt(t("club.deletePrompt"));
  if (!email) return;
  try {
    payload((await gql(DELETE, { input: { email } })).customerDelete);
    await signedOut();
  } catch (error) {
    replace(feedback, notice("error", error.message));
  }
}

// The club section of a signed-in customer's account; `signedOut` ends the session locally.
export function clubSection(signedOut) {
  const feedback = h("div", { "aria-live": "assertive" });
  const box = h("div.club-box", h("p.small", t("club.loading")));
  gql(MEMBERSHIP)
    .then((result) => {
      const membership = result.me?.membership;
      replace(box, membership ? memberCard(membership) : joinForm(box, feedback));
    })
    .catch((error) => replace(box, notice("error", error.message)));
  const exportButton = h("button.button.button-ghost", { type: "button", onclick: () => busy(exportButton, () => download(feedback)) }, t("club.download"));
  const deleteButton = h("button.button.button-ghost", { type: "button", onclick: () => busy(deleteButton, () => deleteAccount(feedback, signedOut)) }, t("club.delete"));
  return h("section.club", feedback, box, h("div.account-data", exportButton, deleteButton));
}

// Joining at sign-up: the checkbox joins and accepts the terms; the offers are each a
// consent of their own, recorded only when joining.
export function signUpClubFields() {
  return h(
    "fieldset.club-sign-up",
    h("legend", t("club.signUpLegend")),
    consent("joinClub", t("club.signUpJoin"), false),
    consent("marketingEmail", t("club.signUpOffersEmail"), false),
    consent("marketingSms", t("club.signUpOffersSms"), false),
  );
}

/** The sign-up input's club part for the sign-up form's data. */
export function signUpClubInput(data) {
  if (data.get("joinClub") !== "on") return { joinClub: false };
  const consents = {
    clubTerms: true,
    marketingEmail: data.get("marketingEmail") === "on",
    marketingSms: data.get("marketingSms") === "on",
  };
  return { joinClub: true, consents };
}

/** Fill `box` with a signed-in member's points once an order is collected (else empty). */
export async function pointsAfterCollection(box, order) {
  if (order.status !== "COLLECTED" || !session.get("authToken")) return replace(box);
  try {
    const points = (await gql(POINTS)).me?.membership?.points;
    if (points == null) return replace(box);
    replace(box, h("p.notice.notice-success", { "data-testid": "order-points" }, t("club.pointsAfterCollection", { count: points, points: number(points) })));
  } catch (error) {
    console.warn("points:", error.message);
  }
}
