// Norsk bokmål. Keys are "area.what"; every key here exists in en.js too (a test checks).
export default {
  "lang.switch": "Språk",
  "club.signUpLegend": "Kundeklubben",
  "club.signUpJoin": "Bli med i kundeklubben og godta vilkårene: tjen poeng på alt du kjøper",
  "club.signUpOffersEmail": "Send meg tilbud på e-post",
  "club.signUpOffersSms": "Send meg tilbud på SMS",
  "club.pointsAfterCollection": { one: "Hentet. Du har nå {points} klubbpoeng.", other: "Hentet. Du har nå {points} klubbpoeng." },
};
