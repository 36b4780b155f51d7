// Progressive enhancement only: every page works without this file.
import { initAll } from "./nhsuk-frontend.min.js";

document.body.classList.add("js-enabled", "nhsuk-frontend-supported");
initAll();

// A long drop-down list marked data-app-suggest (the local health and care area) becomes a text box
// that suggests the names as they are typed (the browser's own list, <datalist>). The name typed is
// sent, and the server reads a name or a code; without scripts the drop-down list stays.
for (const wrapper of document.querySelectorAll("[data-app-suggest]")) {
  const select = wrapper.querySelector("select");
  if (!select) continue;
  const chosen = select.options[select.selectedIndex];
  const input = document.createElement("input");
  input.type = "text";
  input.className = "nhsuk-input" + (select.classList.contains("nhsuk-select--error") ? " nhsuk-input--error" : "");
  input.id = select.id;
  input.name = select.name;
  input.autocomplete = "off";
  input.spellcheck = false;
  input.value = wrapper.getAttribute("data-typed") || (chosen && chosen.value ? chosen.text : "");
  const list = document.createElement("datalist");
  list.id = `${select.id}-suggestions`;
  for (const option of select.options) {
    if (!option.value || option.value === wrapper.getAttribute("data-typed")) continue;
    list.appendChild(new Option(option.text));
  }
  input.setAttribute("list", list.id);
  const hint = document.getElementById(`${select.id}-hint`);
  if (hint) hint.textContent += " Start typing the name, then choose it from the list.";
  if (select.getAttribute("aria-describedby")) input.setAttribute("aria-describedby", select.getAttribute("aria-describedby"));
  select.replaceWith(input, list);
}

// The round page: while the matcher works, or messages go out, ask the server every few seconds.
const watched = document.querySelector("[data-round-poll]");
if (watched) {
  const url = watched.getAttribute("data-round-poll");
  const live = document.getElementById("round-live");
  const deliveries = document.getElementById("deliveries-summary");
  let status = watched.getAttribute("data-status");
  let stopped = false;

  async function poll() {
    if (stopped) return;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.ok) {
        const now = await response.json();
        if (now.status !== status) {
          stopped = true;
          live.textContent = `The round is now: ${now.status_words}. Loading the page again.`;
          // Load the page again without the one-off message in the address.
          window.setTimeout(() => window.location.replace(window.location.pathname), 1500);
          return;
        }
        const progress = document.getElementById("solve-progress");
        if (progress && progress.textContent.trim() !== now.progress_words) {
          progress.textContent = now.progress_words;
        }
        if (deliveries && now.deliveries_words && deliveries.textContent.trim() !== now.deliveries_words) {
          deliveries.textContent = now.deliveries_words;
        }
      }
    } catch (error) {
      // The server may be restarting; try again at the next tick.
    }
    window.setTimeout(poll, status === "published" ? 5000 : 1500);
  }
  window.setTimeout(poll, 1500);
}
