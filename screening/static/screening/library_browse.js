// A library's property distributions while the workers compute them: ask the API until they are
// ready (or failed), then reload the page, which draws them.
(() => {
  const section = document.querySelector("[data-stats-url]");
  if (!section || section.dataset.statsStatus !== "computing") return;
  const progress = section.querySelector("[data-testid=stats-progress]");
  let delay = 1500;
  const poll = async () => {
    let stats = null;
    try {
      const response = await fetch(section.dataset.statsUrl, { headers: { Accept: "application/json" } });
      if (response.ok) stats = await response.json();
    } catch (_) { /* the next poll tries again */ }
    if (stats && stats.status !== "computing") {
      window.location.reload();
      return;
    }
    if (stats && progress) {
      progress.textContent = `Computing the distributions: ${stats.shards_done} of ${stats.shards} shards summarised. ` +
        "This page updates when they are ready.";
    }
    delay = Math.min(delay * 1.5, 10000);
    setTimeout(poll, delay);
  };
  setTimeout(poll, delay);
})();
