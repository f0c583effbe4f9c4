// Upload with a progress bar and a mapping step (columns chosen on a structure preview of the first
// records), live ingest progress on a library page, and a confirmation before deleting. Data from
// files is only ever set as text.
(() => {
  const HEAD_BYTES = 256 * 1024; // the preview needs only the file's first bytes
  const SVG_PREFIX = "data:image/svg+xml;base64,";
  const FORMATS = { csv: "CSV", tsv: "TSV", smiles: "SMILES file", sdf: "SD file" };

  const el = (tag, text, className) => {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  };

  const option = (value, label, selected) => {
    const node = el("option", label);
    node.value = value;
    node.selected = selected;
    return node;
  };

  // The mapping step: preview a chosen file's head, let the columns be chosen, add them to the upload.
  const setupMapping = (form) => {
    const panel = form.querySelector("[data-mapping]");
    const fileInput = form.querySelector('input[type="file"][name="file"]');
    if (!panel || !fileInput || !form.dataset.previewUrl) return null;
    const status = panel.querySelector("[data-mapping-status]");
    const columnsBox = panel.querySelector("[data-mapping-columns]");
    const smilesSelect = panel.querySelector("[data-mapping-smiles]");
    const idSelect = panel.querySelector("[data-mapping-id]");
    const propertyList = panel.querySelector("[data-mapping-property-list]");
    const propertyNote = panel.querySelector("[data-mapping-property-note]");
    const warnings = panel.querySelector("[data-mapping-warnings]");
    const thead = panel.querySelector("table thead");
    const tbody = panel.querySelector("table tbody");
    // The free-text column fields: the mapping's selects replace them while a CSV/TSV preview is shown.
    const plainFields = ["smiles_column", "id_column"]
      .map((name) => form.querySelector(`[name="${name}"]`))
      .filter(Boolean)
      .map((input) => input.closest("div"));
    let state = null; // { file, preview, smiles, id, dropped: Set }
    let generation = 0;

    const setStatus = (text, isError) => {
      status.textContent = text;
      status.className = isError ? "error" : "muted";
    };

    const propertyColumns = () =>
      state.preview.columns.filter((column) => column !== state.smiles && column !== state.id);

    const describe = (preview) => {
      const parts = [`${FORMATS[preview.format] || preview.format}${preview.compressed ? ", gzipped" : ""}`];
      const count = preview.rows.length;
      parts.push(`the first ${count} record${count === 1 ? "" : "s"}${preview.complete ? "" : " of the file"}`);
      let text = parts.join(" · ");
      if (preview.mapping && preview.header) {
        text += ". Check the SMILES and id columns and choose the properties to keep.";
      } else if (preview.mapping) {
        text += ". The file has no header line: its SMILES column is found from the content.";
      }
      return text;
    };

    const renderProperties = () => {
      const columns = propertyColumns();
      propertyList.replaceChildren(
        ...columns.map((column) => {
          const label = el("label");
          const box = el("input");
          box.type = "checkbox";
          box.value = column;
          box.checked = !state.dropped.has(column);
          box.addEventListener("change", () => {
            if (box.checked) state.dropped.delete(column);
            else state.dropped.add(column);
            renderNote();
            renderTable();
          });
          label.append(box, el("span", column));
          return label;
        }),
      );
      if (!columns.length) propertyList.replaceChildren(el("span", "No other columns.", "muted"));
      renderNote();
    };

    const renderNote = () => {
      const columns = propertyColumns();
      const kept = columns.filter((column) => !state.dropped.has(column)).length;
      if (columns.length && !kept) {
        propertyNote.textContent = "None is checked: with no choice every column is kept. Keep at least one.";
        propertyNote.className = "helptext error";
      } else {
        propertyNote.textContent = `${kept} of ${columns.length} kept as properties.`;
        propertyNote.className = "helptext";
      }
    };

    const renderTable = () => {
      const { preview } = state;
      const showName = !preview.mapping && preview.format === "sdf";
      const kept = new Set(preview.mapping ? propertyColumns().filter((c) => !state.dropped.has(c)) : []);
      const dropped = (column) => preview.mapping && column !== state.smiles && column !== state.id && !kept.has(column);
      const head = el("tr");
      const headCell = (text) => {
        const cell = el("th", text);
        cell.scope = "col";
        return cell;
      };
      head.append(headCell("Structure"));
      if (showName) head.append(headCell("Name"));
      for (const column of preview.columns) {
        const cell = headCell(column);
        if (preview.mapping && column === state.smiles) cell.append(el("span", "SMILES", "badge"));
        else if (preview.mapping && column === state.id) cell.append(el("span", "id", "badge"));
        else if (dropped(column)) cell.classList.add("dropped");
        head.append(cell);
      }
      thead.replaceChildren(head);
      tbody.replaceChildren(
        ...preview.rows.map((row) => {
          const line = el("tr");
          const structure = el("td", null, "structure");
          if (typeof row.image === "string" && row.image.startsWith(SVG_PREFIX)) {
            const image = el("img");
            image.src = row.image;
            image.alt = `structure of ${row.smiles || row.name || `record ${row.record}`}`;
            image.width = 180;
            image.height = 130;
            structure.append(image);
          }
          if (row.error) structure.append(el("span", row.error, "error"));
          line.append(structure);
          if (showName) line.append(el("td", row.name || ""));
          if (!row.values.length) {
            const rest = el("td", `line ${row.line}`, "muted");
            rest.colSpan = Math.max(1, preview.columns.length);
            line.append(rest);
            return line;
          }
          preview.columns.forEach((column, index) => {
            const cell = el("td", row.values[index] || "", dropped(column) ? "dropped" : "");
            cell.title = row.values[index] || "";
            line.append(cell);
          });
          return line;
        }),
      );
    };

    const render = (preview, keepChoices) => {
      state.preview = preview;
      setStatus(describe(preview), false);
      warnings.replaceChildren(...preview.warnings.map((text) => el("li", text)));
      columnsBox.hidden = !preview.mapping;
      for (const field of plainFields) field.hidden = preview.mapping;
      if (preview.mapping) {
        if (!keepChoices) {
          state.smiles = preview.smiles_column;
          state.id = preview.id_column || "";
          state.dropped = new Set();
        }
        if (state.id === state.smiles) state.id = "";
        smilesSelect.replaceChildren(...preview.columns.map((c) => option(c, c, c === state.smiles)));
        idSelect.replaceChildren(
          option("", "none", !state.id),
          ...preview.columns.filter((c) => c !== state.smiles).map((c) => option(c, c, c === state.id)),
        );
        smilesSelect.disabled = idSelect.disabled = !preview.header;
        renderProperties();
      }
      renderTable();
    };

    const load = async (smilesColumn) => {
      const ticket = ++generation;
      const { file } = state;
      const body = new FormData();
      body.append("file", file.slice(0, HEAD_BYTES), file.name);
      body.append("complete", file.size <= HEAD_BYTES ? "true" : "false");
      body.append("csrfmiddlewaretoken", form.querySelector('[name="csrfmiddlewaretoken"]').value);
      const url = new URL(form.dataset.previewUrl, window.location.href);
      if (smilesColumn) url.searchParams.set("smiles_column", smilesColumn);
      panel.hidden = false;
      setStatus(smilesColumn ? "Drawing the structures…" : "Reading the first records…", false);
      let response;
      let payload = {};
      try {
        response = await fetch(url, {
          method: "POST",
          body,
          credentials: "same-origin",
          headers: { "X-Requested-With": "XMLHttpRequest", Accept: "application/json" },
        });
        payload = await response.json().catch(() => ({}));
      } catch (_) {
        if (ticket === generation) setStatus("No preview: the connection was lost.", true);
        return;
      }
      if (ticket !== generation) return; // another file or column was chosen meanwhile
      if (!response.ok) {
        const message = (payload.error && payload.error.message) || `the server answered ${response.status}`;
        setStatus(`No preview: ${message}`, true);
        if (!smilesColumn) {
          state.preview = null;
          columnsBox.hidden = true;
          for (const field of plainFields) field.hidden = false;
          warnings.replaceChildren();
          thead.replaceChildren();
          tbody.replaceChildren();
        }
        return;
      }
      render(payload, Boolean(smilesColumn));
    };

    fileInput.addEventListener("change", () => {
      const file = fileInput.files && fileInput.files[0];
      generation += 1;
      if (!file) {
        state = null;
        panel.hidden = true;
        for (const field of plainFields) field.hidden = false;
        return;
      }
      state = { file, preview: null, smiles: null, id: "", dropped: new Set() };
      load(null);
    });

    smilesSelect.addEventListener("change", () => {
      state.smiles = smilesSelect.value;
      if (state.id === state.smiles) state.id = "";
      load(state.smiles);
    });

    idSelect.addEventListener("change", () => {
      state.id = idSelect.value;
      renderProperties();
      renderTable();
    });

    return {
      // The chosen mapping, added to the upload's form data.
      apply(data) {
        if (!state || !state.preview || !state.preview.mapping) return;
        if (state.preview.header) {
          data.set("smiles_column", state.smiles);
          data.set("id_column", state.id);
          data.set("no_id_column", state.id ? "false" : "true");
        }
        const columns = propertyColumns();
        const kept = columns.filter((column) => !state.dropped.has(column));
        data.delete("properties");
        if (kept.length && kept.length < columns.length) {
          for (const column of kept) data.append("properties", column);
        }
      },
    };
  };

  const form = document.querySelector("[data-upload-form]");
  if (form) {
    const mapping = setupMapping(form);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const bar = form.querySelector("[data-upload-progress]");
      const status = form.querySelector("[data-upload-status]");
      const data = new FormData(form);
      if (mapping) mapping.apply(data);
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
      request.send(data);
    });
  }

  // Destructive forms ask first; the question is the form's data-confirm text.
  for (const confirmed of document.querySelectorAll("form[data-confirm]")) {
    confirmed.addEventListener("submit", (event) => {
      if (!window.confirm(confirmed.dataset.confirm)) event.preventDefault();
    });
  }

  const panel = document.querySelector("[data-library-progress]");
  if (panel && ["queued", "ingesting"].includes(panel.dataset.status)) {
    const refresh = async () => {
      const response = await fetch(panel.dataset.libraryProgress, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const library = await response.json();
      for (const key of ["records", "valid", "invalid", "duplicates", "compounds", "warnings"]) {
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
