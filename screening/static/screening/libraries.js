// Upload with a progress bar, and live ingest progress on a library page.
(() => {
  const form = document.querySelector("[data-upload-form]");
  if (form) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const bar = form.querySelector("[data-upload-progress]");
      const status = form.querySelector("[data-upload-status]");
      const request = new XMLHttpRequest();
      request.open("POST", form.action || window.location.href);
      request.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      bar.hidden = false;
      request.upload.addEventListener("progress", (e) => {
        if (e.lengthComputable) {
          bar.value = Math.round((100 * e.loaded) / e.total);
          status.textContent = `Uploading… ${bar.value}%`;
        }
      });
      request.addEventListener("load", () => {
        let body = {};
        try { body = JSON.parse(request.responseText); } catch (_) { /* not JSON */ }
        if (request.status === 201 && body.url) {
          window.location.assign(body.url);
          return;
        }
        const errors = body.errors ? Object.values(body.errors).flat().map((e) => e.message) : [request.statusText];
        status.textContent = `Upload refused: ${errors.join(" ")}`;
        status.className = "error";
      });
      request.addEventListener("error", () => { status.textContent = "Upload failed: the connection was lost."; });
      request.send(new FormData(form));
    });
  }

  const panel = document.querySelector("[data-library-progress]");
  if (panel && ["queued", "ingesting"].includes(panel.dataset.status)) {
    const refresh = async () => {
      const response = await fetch(panel.dataset.libraryProgress, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const library = await response.json();
      for (const key of ["records", "valid", "invalid", "duplicates", "compounds"]) {
        const cell = panel.querySelector(`[data-field="${key}"]`);
        if (cell) cell.textContent = library[key];
      }
      panel.querySelector('[data-field="progress"]').value = library.progress;
      if (["queued", "ingesting"].includes(library.status)) {
        setTimeout(refresh, 1000);
      } else {
        window.location.reload();  // the finished page shows the validation report
      }
    };
    setTimeout(refresh, 1000);
  }
})();
