// The queue monitor and the operations page bring themselves up to date every 15 seconds, and say in
// a polite live region when what needs a person has changed. Without this file, the "Refresh" link
// does the same. Never while someone is typing; and someone who asked their device for reduced
// motion starts with the updates stopped (the button starts them).
const container = document.querySelector("[data-monitor-refresh]");
if (container) {
  const EVERY_MS = 15000;
  const url = container.getAttribute("data-monitor-refresh");
  const live = document.getElementById("monitor-live");
  const time = document.getElementById("monitor-time");
  const auto = document.getElementById("monitor-auto");
  const button = document.getElementById("monitor-pause");
  let running = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  let timer = null;
  let summary = summaryOf(container);

  function summaryOf(element) {
    const root = element.querySelector("[data-summary]");
    return root ? root.getAttribute("data-summary") : "";
  }

  function typing() {
    const element = document.activeElement;
    return Boolean(element) && (element.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(element.tagName));
  }

  // Replacing the content must not lose the keyboard focus: put it back on the same link.
  function replace(html) {
    const focused = container.contains(document.activeElement) ? document.activeElement : null;
    const key = focused ? [focused.getAttribute("href"), focused.textContent] : null;
    container.innerHTML = html;
    if (key) {
      const again = Array.from(container.querySelectorAll("a")).find(
        (link) => link.getAttribute("href") === key[0] && link.textContent === key[1],
      );
      if (again) again.focus();
    }
  }

  function stop(message) {
    running = false;
    window.clearTimeout(timer);
    live.textContent = message;
    show();
  }

  async function update() {
    if (!running) return;
    if (!typing()) {
      try {
        const response = await fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" });
        if (response.redirected || response.status === 401 || response.status === 403) {
          stop("You are no longer signed in, so this page has stopped updating. Refresh it to sign in again.");
          return;
        }
        if (response.ok) {
          const html = await response.text();
          const holder = document.createElement("div");
          holder.innerHTML = html;
          const now = summaryOf(holder);
          const root = holder.querySelector("[data-summary]");
          replace(html);
          if (time && root) time.textContent = root.getAttribute("data-time");
          if (now !== summary) {
            summary = now;
            live.textContent = `Updated at ${root ? root.getAttribute("data-time") : ""}: ${now}`;
          }
        }
      } catch (error) {
        // The registry may be restarting: try again at the next tick.
      }
    }
    if (running) timer = window.setTimeout(update, EVERY_MS);
  }

  function show() {
    auto.hidden = !running;
    button.textContent = running ? "Stop updating this page" : "Update this page every 15 seconds";
  }

  button.hidden = false;
  button.addEventListener("click", () => {
    running = !running;
    window.clearTimeout(timer);
    live.textContent = running ? "This page will update itself every 15 seconds." : "This page will not update itself.";
    if (running) timer = window.setTimeout(update, EVERY_MS);
    show();
  });
  show();
  if (running) timer = window.setTimeout(update, EVERY_MS);
}
