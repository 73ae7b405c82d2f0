// English messages. Keys are "area.what"; every key here exists in nb.js too (a test checks).
export default {
  "lang.switch": "Language",
  "club.signUpLegend": "The club",
  "club.signUpJoin": "Join the club and accept its terms: earn points on everything you buy",
  "club.signUpOffersEmail": "Send me offers by email",
  "club.signUpOffersSms": "Send me offers by SMS",
  "club.pointsAfterCollection": { one: "Collected. You now have {points} club point.", other: "Collected. You now have {points} club points." },
};
