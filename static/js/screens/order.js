// Placeholder until its API lands.
import { h, heading, notice } from "../dom.js";

export async function render() {
  return h("section", heading("Order"), notice("info", "Coming soon."));
}

export async function renderList() {
  return h("section", heading("Orders"), notice("info", "Coming soon."));
}
