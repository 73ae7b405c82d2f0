// Charts for the scan report: horizontal bars for ranked lists, drawn with HTML and CSS so
// the labels wrap to the width they have (never cut off), with the figures as text beside
// the bars and the detail (e.g. "3 to cart") in each row's accessible text.

import { h } from "../dom.js";
import { number, t } from "../i18n.js";

/**
 * A horizontal bar chart of `rows` ({label, value, detail?}), largest first, with a title.
 * Returns a figure holding an ordered list: each row its label, a bar and its figure.
 */
export function barChart(title, rows, { color = "#0f5c4d", unit = "" } = {}) {
  const max = Math.max(1, ...rows.map((r) => r.value));
  return h(
    "figure.chart",
    h("figcaption", title),
    rows.length
      ? h(
          "ol.bar-chart",
          rows.map((row) =>
            h(
              "li.bar-row",
              { title: row.detail ? `${row.label} (${row.detail})` : row.label },
              h("span.bar-label", row.label),
              h("span.bar-track", { "aria-hidden": "true" }, h("span.bar", { style: `width: ${Math.max(1, (row.value / max) * 100)}%; background: ${color}` })),
              h("span.bar-value", `${number(row.value)}${unit}`, row.detail ? h("span.visually-hidden", ` (${row.detail})`) : null),
            ),
          ),
        )
      : h("p.small", t("staff.chart.nothing")),
  );
}

/** A single figure ("123 scans") for the report's header. */
export function stat(label, value) {
  return h("div.stat", h("span.stat-value", String(value)), h("span.stat-label", label));
}
