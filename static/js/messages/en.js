// English messages. Keys are "area.what"; every key here exists in nb.js too (a test checks).
export default {
  "lang.switch": "Language",
};
