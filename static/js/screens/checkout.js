// Placeholder until its API lands.
import { h, heading, notice } from "../dom.js";

export async function render() {
  return h("section", heading("checkout"), notice("info", "Coming soon."));
}
