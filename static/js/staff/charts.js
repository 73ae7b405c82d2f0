// Charts drawn as plain SVG: horizontal bars for ranked lists, with a table-like text
// alternative so the numbers are readable without seeing the bars.

import { h, svg } from "../dom.js";

const BAR_HEIGHT = 26;
const GAP = 8;
const LABEL_WIDTH = 220;
const VALUE_WIDTH = 56;

function truncate(text, max = 30) {
  return text.length > max ? text.slice(0, max - 1) + "…" : text;
}

/**
 * A horizontal bar chart of `rows` ({label, value, detail?}), largest first, with a title.
 * Returns a figure: the SVG (aria-hidden) and a visually hidden list with the figures.
 */
export function barChart(title, rows, { color = "#0f5c4d", width = 640, unit = "" } = {}) {
  const max = Math.max(1, ...rows.map((r) => r.value));
  const plot = width - LABEL_WIDTH - VALUE_WIDTH;
  const height = rows.length * (BAR_HEIGHT + GAP) + GAP;
  const chart = svg(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, width: "100%", height, class: "bar-chart", "aria-hidden": "true", preserveAspectRatio: "xMinYMin meet" },
    rows.map((row, i) => {
      const y = GAP + i * (BAR_HEIGHT + GAP);
      const barWidth = Math.max(2, (row.value / max) * plot);
      return svg(
        "g",
        {},
        svg("text", { x: LABEL_WIDTH - 8, y: y + BAR_HEIGHT * 0.68, "text-anchor": "end", "font-size": 14, fill: "#1a1f1d" }, truncate(row.label)),
        svg("rect", { x: LABEL_WIDTH, y, width: barWidth, height: BAR_HEIGHT, rx: 4, fill: color }),
        svg("text", { x: LABEL_WIDTH + barWidth + 6, y: y + BAR_HEIGHT * 0.68, "font-size": 14, "font-weight": 700, fill: "#1a1f1d" }, `${row.value}${unit}`),
      );
    }),
  );
  return h(
    "figure.chart",
    h("figcaption", title),
    rows.length ? chart : h("p.small", "Nothing in this period."),
    h("ol.visually-hidden", rows.map((row) => h("li", `${row.label}: ${row.value}${unit}${row.detail ? ` (${row.detail})` : ""}`))),
  );
}

/** A single figure ("123 scans") for the report's header. */
export function stat(label, value) {
  return h("div.stat", h("span.stat-value", String(value)), h("span.stat-label", label));
}
