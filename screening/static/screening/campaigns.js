// Live campaign progress: poll the campaign while it runs; reload when it finishes (results appear).
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
    if (["queued", "running"].includes(campaign.status)) {
      setTimeout(refresh, 1500);
    } else {
      window.location.reload();
    }
  };
  setTimeout(refresh, 1000);
})();
