// Campaign page: live progress while the campaign runs (reload when it finishes: results appear),
// and a hits table that sorts, filters and pages in place, without losing the reader's place.
(() => {
  const panel = document.querySelector("[data-campaign-progress]");
  if (!panel || !["queued", "running"].includes(panel.dataset.status)) return;
  const set = (name, value) => {
    const element = panel.querySelector(`[data-field="${name}"]`);
    if (element) element.textContent = value;
  };
  const refresh = async () => {
    const response = await fetch(panel.dataset.campaignProgress, { headers: { Accept: "application/json" } });
    if (!response.ok) { setTimeout(refresh, 5000); return; }
    const campaign = await response.json();
    const progress = campaign.progress;
    panel.querySelector('[data-field="fraction"]').value = progress.fraction;
    set("processed", progress.processed);
    set("compounds", progress.compounds);
    set("compounds_per_second", progress.compounds_per_second ?? "—");
    set("eta", progress.eta_seconds === null ? "—" : `${progress.eta_seconds} s`);
    set("shards", Object.entries(progress.shards).map(([status, n]) => `${status} ${n}`).join(" · "));
    set("stuck_shards", progress.stuck_shards);
    const stuck = panel.querySelector("[data-testid=stuck]");
    if (stuck) stuck.hidden = !progress.stuck_shards;
    if (["queued", "running"].includes(campaign.status)) {
      setTimeout(refresh, 1500);
    } else {
      window.location.reload();
    }
  };
  setTimeout(refresh, 1000);
})();

(() => {
  const section = document.querySelector("[data-hits]");
  if (!section) return;
  // The page is fetched and only the hits section swapped, so nothing above it moves; without
  // JavaScript the links and the form still work, landing on #hits.
  const load = async (url, remember) => {
    section.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(url, { headers: { Accept: "text/html" } });
      const fresh = response.ok
        ? new DOMParser().parseFromString(await response.text(), "text/html").querySelector("[data-hits]")
        : null;
      if (!fresh) { window.location.assign(url); return; }
      section.replaceChildren(...Array.from(fresh.childNodes, (node) => document.importNode(node, true)));
      if (remember) window.history.pushState({ hits: true }, "", url);
    } catch (error) {
      window.location.assign(url);
    } finally {
      section.removeAttribute("aria-busy");
    }
  };
  section.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-hits-link]");
    if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    load(link.href, true);
  });
  section.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-hits-form]");
    if (!form) return;
    event.preventDefault();
    const url = new URL(form.getAttribute("action") || "", window.location.href);
    const params = new URLSearchParams();
    for (const [name, value] of new FormData(form)) if (value !== "") params.append(name, value);
    url.search = params.toString();
    load(url.href, true);
  });
  window.addEventListener("popstate", () => load(window.location.href, false));
})();
