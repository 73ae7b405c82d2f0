// Building DOM without a framework: h() for elements, small helpers every screen uses.

/**
 * Create an element: h("button.primary", {onclick, type: "button"}, "Add").
 * Attributes starting with "on" become listeners; `class`, `data-*`, `aria-*` and the rest
 * are set as attributes; null/false children and attributes are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const [head, ...classes] = tag.split(".");
  const [name, id] = head.split("#");
  const el = document.createElement(name || "div");
  if (id) el.id = id;
  if (classes.length) el.className = classes.join(" ");
  if (attrs === null || typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs)) {
    children.unshift(attrs);
    attrs = {};
  }
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      el.className = [el.className, value].filter(Boolean).join(" ");
    } else if (key === "value" || key === "checked" || key === "disabled" || key === "hidden") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** Replace everything inside `el` with `children`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** An SVG element (for icons and charts), attributes set as given. */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) el.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** A status message: kind is "info", "error" or "success"; errors are announced at once. */
export function notice(kind, text) {
  return h(`p.notice.notice-${kind}`, { role: kind === "error" ? "alert" : "status" }, text);
}

/** A page heading that the router focuses after navigation. */
export function heading(text, level = 1) {
  return h(`h${level}`, { tabindex: "-1", "data-focus": level === 1 ? "" : null }, text);
}

const STATUS_TEXT = { IN_STOCK: "In stock", LOW_STOCK: "Few left", OUT_OF_STOCK: "Out of stock" };

/** A stock status pill; shows the count when it helps ("2 left"), `where: "here"` says so. */
export function stockPill(level, { showCount = true, where = null } = {}) {
  if (!level) return h("span.pill.pill-unknown", "Unknown");
  let text =
    level.status === "LOW_STOCK" && showCount ? `${level.available} left` : STATUS_TEXT[level.status];
  if (where && level.status !== "IN_STOCK") text = `${text} ${where}`;
  return h(`span.pill.pill-${level.status.toLowerCase().replaceAll("_", "-")}`, text);
}

/** Disable a button while `work` runs, and re-enable it afterwards. */
export async function busy(button, work) {
  const label = button.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = label;
  }
}

/** Escape-free relative time: "in 5 min", "2 min ago". */
export function minutesFromNow(iso) {
  const minutes = Math.round((new Date(iso).getTime() - Date.now()) / 60000);
  if (minutes === 0) return "now";
  return minutes > 0 ? `in ${minutes} min` : `${-minutes} min ago`;
}
