// Norsk bokmål. Keys are "area.what"; every key here exists in en.js too (a test checks).
export default {
  "lang.switch": "Språk",
};
