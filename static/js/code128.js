// Code 128 (code set B) drawn as SVG in the browser, for receipts and staff labels whose
// text (an order number) has no image URL of its own. Handoff codes use the server's images.

import { svg } from "./dom.js";

// Bar/space widths of symbol values 0..106 (106 = stop, which has a 7th element).
const PATTERNS = (
  "212222 222122 222221 121223 121322 131222 122213 122312 132212 221213 221312 231212 112232 " +
  "122132 122231 113222 123122 123221 223211 221132 221231 213212 223112 312131 311222 321122 " +
  "321221 312212 322112 322211 212123 212321 232121 111323 131123 131321 112313 132113 132311 " +
  "211313 231113 231311 112133 112331 132131 113123 113321 133121 313121 211331 231131 213113 " +
  "213311 213131 311123 311321 331121 312113 312311 332111 314111 221411 431111 111224 111422 " +
  "121124 121421 141122 141221 112214 112412 122114 122411 142112 142211 241211 221114 413111 " +
  "241112 134111 111242 121142 121241 114212 124112 124211 411212 421112 421211 212141 214121 " +
  "412121 111143 111341 131141 114113 114311 411113 411311 113141 114131 311141 411131 211412 " +
  "211214 211232 2331112"
).split(" ");
const START_B = 104;
const STOP = 106;

/** The symbol values of `text` in code set B, with start, checksum and stop. */
export function encode(text) {
  const values = [START_B];
  for (const char of text) {
    const code = char.charCodeAt(0);
    if (code < 32 || code > 126) throw new Error(`Code 128 B cannot hold ${JSON.stringify(char)}`);
    values.push(code - 32);
  }
  const checksum = values.reduce((sum, value, i) => sum + value * (i === 0 ? 1 : i), 0) % 103;
  return [...values, checksum, STOP];
}

/** An SVG element of `text` as Code 128, `height` px tall, with the text under the bars. */
export function code128Svg(text, { height = 80, module = 2, label = true } = {}) {
  const quiet = 10 * module;
  const bars = [];
  let x = quiet;
  for (const value of encode(text)) {
    const widths = PATTERNS[value];
    for (let i = 0; i < widths.length; i++) {
      const width = Number(widths[i]) * module;
      if (i % 2 === 0) bars.push(svg("rect", { x, y: 0, width, height, fill: "#000" }));
      x += width;
    }
  }
  const total = x + quiet;
  const textHeight = label ? 22 : 0;
  return svg(
    "svg",
    { viewBox: `0 0 ${total} ${height + textHeight}`, width: total, height: height + textHeight, role: "img", "aria-label": `Barcode ${text}`, class: "code128" },
    svg("rect", { x: 0, y: 0, width: total, height: height + textHeight, fill: "#fff" }),
    bars,
    label ? svg("text", { x: total / 2, y: height + 18, "text-anchor": "middle", "font-family": "monospace", "font-size": 16 }, text) : null,
  );
}
