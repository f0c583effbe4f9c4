// Live experiment page: poll the experiment while it is active, redraw the counts and the trial
// table, redraw Optuna's figures when another trial finishes, reload once it has been finalised.
(() => {
  const panel = document.querySelector("[data-experiment]");
  if (!panel) return;
  const ACTIVE = ["queued", "running", "paused", "finalising"];
  const set = (name, value) => {
    const element = document.querySelector(`[data-field="${name}"]`);
    if (element) element.textContent = value;
  };
  const cell = (text, className) => {
    const td = document.createElement("td");
    if (className) td.className = className;
    td.textContent = text ?? "";
    return td;
  };
  const codeCell = (text, title) => {
    const td = document.createElement("td");
    const code = document.createElement("code");
    code.textContent = text ?? "";
    if (title) code.title = title;
    td.appendChild(code);
    return td;
  };
  const renderTrials = (rows) => {
    const body = document.querySelector('[data-field="trials"]');
    if (!body || rows.length === 0) return;
    body.replaceChildren(...rows.map((row) => {
      const tr = document.createElement("tr");
      tr.dataset.trial = row.id;
      tr.id = `trial-${row.id}`; // the registry's version page links here
      tr.appendChild(cell(row.number ?? "…"));
      tr.appendChild(cell(row.retry_of === null ? `${row.attempt}` : `${row.attempt} (retry of ${row.retry_of})`));
      const state = document.createElement("td");
      const badge = document.createElement("span");
      badge.className = `badge status-${row.state}`;
      badge.textContent = row.state_label;
      state.appendChild(badge);
      tr.appendChild(state);
      row.values.forEach((value) => tr.appendChild(cell(value, row.final ? "" : "muted")));
      row.params.forEach((value) => tr.appendChild(codeCell(value)));
      tr.appendChild(cell(row.seconds));
      tr.appendChild(codeCell(row.job.length > 28 ? `${row.job.slice(0, 27)}…` : row.job, row.job));
      const log = document.createElement("td");
      if (row.log_url) {
        const link = document.createElement("a");
        link.href = row.log_url;
        link.textContent = "log";
        log.appendChild(link);
      }
      tr.appendChild(log);
      tr.appendChild(cell(row.reason));
      return tr;
    }));
  };
  const drawFigures = async () => {
    const response = await fetch(panel.dataset.figures, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    const figures = await response.json();
    for (const [name, item] of Object.entries(figures)) {
      const target = document.querySelector(`[data-figure="${name}"]`);
      if (!target) continue;
      if (item.figure && window.Plotly) {
        target.replaceChildren();
        window.Plotly.react(target, item.figure.data, item.figure.layout, { responsive: true, displaylogo: false });
      } else {
        const message = document.createElement("p");
        message.className = "muted";
        message.textContent = item.message || "Not drawn.";
        target.replaceChildren(message);
      }
    }
  };
  let finished = -1;
  const refresh = async () => {
    const response = await fetch(panel.dataset.experiment, { headers: { Accept: "application/json" } });
    if (!response.ok) { setTimeout(refresh, 5000); return; }
    const { experiment, trials } = await response.json();
    const counts = experiment.progress.trials;
    ["complete", "active", "pruned", "failed", "launched"].forEach((key) => set(key, counts[key]));
    const bar = document.querySelector('[data-field="launched-bar"]');
    if (bar) bar.value = counts.launched;
    set("elapsed", experiment.progress.elapsed_seconds ?? "—");
    renderTrials(trials);
    const done = counts.complete + counts.pruned;
    if (done !== finished) {
      finished = done;
      drawFigures();
    }
    if (experiment.status !== panel.dataset.status || (experiment.finalised_at && panel.dataset.finalised === "no")) {
      window.location.reload();
      return;
    }
    if (ACTIVE.includes(experiment.status) || !experiment.finalised_at) setTimeout(refresh, 2000);
  };
  if (ACTIVE.includes(panel.dataset.status) || panel.dataset.finalised === "no") refresh();
  else drawFigures();
})();
