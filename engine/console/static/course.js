"use strict";
// The treatment course in the client view: intake (precautions, goals, referrer), the plan and
// progress against it (trends drawn as small SVG plots), re-assessments, cybersickness ratings after
// headset sessions, and what the client's precautions change in the program about to start.
// Loaded before console.js; it calls console.js's api(), state and updateStart() only once the page
// runs, and offers console.js the hooks in window.tidewellCourse.
(() => {
  const byId = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";
  const FIXED_RANGES = { pain: [0, 10], stress: [0, 10], fms: [0, 20] };
  const local = { lists: null, view: null, clientId: null, preview: null, previewKey: null, previewFor: null,
    planPrograms: [], ratedEnded: null };

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function programTitle(id) {
    const found = (state.programs || []).find((p) => p.id === id);
    return found ? found.title : id;
  }

  async function lists() {
    if (!local.lists) local.lists = await api("/api/course/lists");
    return local.lists;
  }

  // -- a scale of buttons: one value or none ---------------------------------------------
  function scaleButtons(container, max, labels) {
    for (let value = 0; value <= max; value++) {
      const button = make("button", "", labels ? labels[value] : String(value));
      button.type = "button";
      button.dataset.value = value;
      button.addEventListener("click", () => {
        const again = button.classList.contains("selected");
        for (const b of container.querySelectorAll("button")) b.classList.remove("selected");
        if (!again) button.classList.add("selected");
      });
      container.append(button);
    }
  }

  function chosen(container) {
    const button = container.querySelector("button.selected");
    return button ? Number(button.dataset.value) : null;
  }

  function choose(container, value) {
    for (const b of container.querySelectorAll("button")) b.classList.toggle("selected", Number(b.dataset.value) === value);
  }

  // -- cybersickness: the FMS, and the full SSQ when wanted -------------------------------
  async function cyberForm(sessionId, onSaved) {
    const [known, current] = await Promise.all([lists(), api(`/api/sessions/${sessionId}/cybersickness`)]);
    const box = make("div", "cyber");
    box.append(make("p", "question", known.fms.question));
    const fms = make("div", "scale fms");
    scaleButtons(fms, known.fms.max);
    if (current.fms !== null) choose(fms, current.fms);
    const ssq = make("details", "ssq");
    ssq.append(make("summary", "", "Full Simulator Sickness Questionnaire (optional)"));
    const table = make("table");
    const rows = known.ssq_symptoms.map((symptom, index) => {
      const row = make("tr");
      const cell = make("td");
      const scale = make("div", "scale");
      scaleButtons(scale, known.ssq_item_max, known.ssq_levels);
      if (current.ssq) choose(scale, current.ssq[index]);
      cell.append(scale);
      row.append(make("th", "", symptom), cell);
      table.append(row);
      return scale;
    });
    if (current.ssq) ssq.open = true;
    ssq.append(table);
    const save = make("button", "primary", "Save cybersickness");
    save.type = "button";
    const message = make("p", "message");
    message.setAttribute("role", "status");
    if (current.fms !== null) message.textContent = `stored: FMS ${current.fms}` + (current.ssq_scores ?
      `, SSQ total ${current.ssq_scores.total.toFixed(1)}` : "");
    save.addEventListener("click", async () => {
      const items = rows.map(chosen);
      const answered = items.filter((v) => v !== null).length;
      if (chosen(fms) === null) { message.textContent = "choose a number from 0 to 20"; return; }
      if (answered && answered < items.length) {
        message.textContent = `the SSQ needs all ${items.length} symptoms rated (${answered} so far), or none`;
        return;
      }
      try {
        const stored = await api(`/api/sessions/${sessionId}/cybersickness`, { method: "PUT",
          body: { fms: chosen(fms), ssq: answered ? items : null } });
        message.textContent = `saved: FMS ${stored.fms}` + (stored.ssq_total === null ? "" : `, SSQ total ${stored.ssq_total}`);
        if (onSaved) onSaved();
      } catch (error) {
        message.textContent = error.message;
      }
    });
    box.append(fms, ssq, save, message);
    return box;
  }

  async function sessionEnded(sessionId) {
    if (local.ratedEnded === sessionId) return;
    local.ratedEnded = sessionId;
    const panel = byId("cyber-after");
    const slot = byId("cyber-after-form");
    slot.replaceChildren();
    panel.hidden = true;
    try {
      const rating = await api(`/api/sessions/${sessionId}/cybersickness`);
      const form = await cyberForm(sessionId, () => { if (local.clientId !== null) refresh(); });
      if (rating.asked) {
        byId("cyber-after-title").textContent = "Cybersickness after the headset";
        slot.append(form);
      } else {
        byId("cyber-after-title").textContent = "Cybersickness";
        const more = make("details");
        more.append(make("summary", "", "Rate cybersickness for this session (optional: it was not in the headset)"), form);
        slot.append(more);
      }
      panel.hidden = false;
    } catch (error) {
      slot.textContent = error.message;
      panel.hidden = false;
    }
  }

  // -- the client view ---------------------------------------------------------------------
  async function clientChosen(id) {
    local.clientId = id;
    byId("course-panel").hidden = false;
    for (const boxId of ["course-sessions-box", "intake-box", "plan-box"]) byId(boxId).open = false;
    byId("course-cyber").replaceChildren();
    await refresh();
  }

  async function refresh() {
    const id = local.clientId;
    try {
      const [known, view] = await Promise.all([lists(), api(`/api/clients/${id}/course`)]);
      if (id !== local.clientId) return;  // another client was chosen meanwhile
      local.view = view;
      byId("course-client").textContent = view.pseudonym;
      renderProgress(view);
      renderFlags(view);
      renderReassessment(view);
      renderTrends(view);
      renderSessions(view);
      renderIntake(known, view.intake);
      renderPlan(known, view.plan);
      byId("course-message").textContent = "";
    } catch (error) {
      byId("course-message").textContent = error.message;
    }
  }

  function renderProgress(view) {
    const box = byId("course-progress");
    box.replaceChildren();
    const plan = view.plan;
    const done = view.sessions_done;
    const line = make("p", "progress-line");
    if (!plan) {
      line.textContent = `${done} session${done === 1 ? "" : "s"} done · no treatment plan yet (see Treatment plan below)`;
      box.append(line);
      return;
    }
    line.textContent = `${done} of ${plan.sessions_planned} sessions done · ${plan.per_week} a week · ` +
      `re-assessed every ${plan.reassess_every}`;
    const bar = make("div", "progress");
    bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", String(plan.sessions_planned));
    bar.setAttribute("aria-valuenow", String(Math.min(done, plan.sessions_planned)));
    const fill = make("span");
    fill.style.width = `${Math.min(100, (100 * done) / plan.sessions_planned)}%`;
    bar.append(fill);
    box.append(line, bar);
    const next = make("p", "next");
    if (view.next_program) {
      next.append(`Next: session ${done + 1}, ${programTitle(view.next_program)} `);
      const pick = make("button", "small", "Choose it");
      pick.type = "button";
      pick.addEventListener("click", () => { state.programId = view.next_program; renderPrograms(); updateStart(); });
      next.append(pick);
    } else {
      next.textContent = "The plan's sessions are all done.";
    }
    box.append(next);
  }

  function renderFlags(view) {
    const list = byId("course-flags");
    list.replaceChildren(...view.flags.map((flag) => make("li", "", flag)));
    // After a high cybersickness score the eyes-closed variant is suggested: offered ticked, never forced.
    byId("eyes-closed").checked = view.suggest_eyes_closed;
    byId("eyes-closed-hint").textContent = view.suggest_eyes_closed
      ? "suggested after the last cybersickness rating; untick to play the program's scenes"
      : "every phase in the eyes-closed scene: almost dark, the guide mostly heard";
  }

  function renderReassessment(view) {
    const box = byId("course-reassess");
    box.hidden = view.reassessment_due === null;
    if (box.hidden) return;
    byId("course-reassess-hint").textContent = `After session ${view.reassessment_due}: how are pain, stress and the ` +
      "goals now (0-10 each, goal progress 10 = reached)?";
    byId("reassess-message").textContent = "";
  }

  byId("save-reassess").addEventListener("click", async () => {
    const view = local.view;
    if (!view || view.reassessment_due === null) return;
    try {
      await api(`/api/clients/${local.clientId}/reassessment`, { method: "POST",
        body: { sessions_done: view.reassessment_due, ...readRating("reassess-rating") } });
      clearRating("reassess-rating");
      await refresh();
    } catch (error) {
      byId("reassess-message").textContent = error.message;
    }
  });

  function renderTrends(view) {
    const box = byId("course-trends");
    box.replaceChildren();
    const count = Math.max(view.sessions.length, view.plan ? Math.min(view.plan.sessions_planned, view.sessions.length + 1) : 0, 2);
    for (const measure of view.measures) box.append(trend(measure, count, view.reassessments));
  }

  function trend(measure, count, reassessments) {
    const figure = make("figure", "trend");
    const series = measure.series;
    const caption = make("figcaption");
    caption.append(make("span", "", `${measure.label}, by session`));
    const summary = !series.length ? "no values yet" : series.length === 1 ? `${series[0][1]}`
      : `${round(series[0][1])} → ${round(series[series.length - 1][1])}`;
    caption.append(make("span", "value", summary));
    figure.append(caption, plot(measure.name, series, count, reassessments));
    return figure;
  }

  function round(value) {
    return Math.abs(value) >= 10 || Number.isInteger(value) ? Math.round(value) : value.toFixed(1);
  }

  function plot(name, series, count, reassessments) {
    const w = 280, h = 120, left = 28, right = 10, top = 10, bottom = 22;
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    svg.setAttribute("role", "img");
    const values = series.map((p) => p[1]);
    let [low, high] = FIXED_RANGES[name] || [Math.min(...values), Math.max(...values)];
    if (!values.length) [low, high] = [0, 1];
    if (high - low < 1e-9) { low -= 1; high += 1; }
    const x = (n) => left + ((w - left - right) * (n - 1)) / Math.max(count - 1, 1);
    const y = (v) => top + (h - top - bottom) * (1 - (v - low) / (high - low));
    const add = (tag, attributes, text) => {
      const node = document.createElementNS(SVG, tag);
      for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
      if (text !== undefined) node.textContent = text;
      svg.append(node);
      return node;
    };
    for (const v of [low, high]) {
      add("line", { x1: left, x2: w - right, y1: y(v), y2: y(v), class: "grid" });
      add("text", { x: left - 5, y: y(v) + 4, class: "axis", "text-anchor": "end" }, round(v));
    }
    for (const r of reassessments) {  // where the course was re-assessed
      if (r.sessions_done >= 1 && r.sessions_done <= count) {
        add("line", { x1: x(r.sessions_done), x2: x(r.sessions_done), y1: top, y2: h - bottom, class: "reassessed" });
      }
    }
    const every = Math.ceil(count / 10);  // session numbers under the axis, at most about ten
    for (let n = 1; n <= count; n += every) add("text", { x: x(n), y: h - 6, class: "axis", "text-anchor": "middle" }, n);
    svg.setAttribute("aria-label", `${name}: ` + (series.map((p) => `session ${p[0]} ${round(p[1])}`).join(", ") || "no values"));
    if (series.length > 1) {
      add("polyline", { points: series.map((p) => `${x(p[0])},${y(p[1])}`).join(" "), class: "line" });
    }
    for (const [n, v] of series) add("circle", { cx: x(n), cy: y(v), r: 3.5, class: "dot" });
    return svg;
  }

  function renderSessions(view) {
    const box = byId("course-sessions");
    box.replaceChildren();
    const asked = view.sessions.filter((s) => s.cybersickness_asked).length;
    byId("course-sessions-summary").textContent = "Sessions and cybersickness" +
      (asked ? ` · ${asked} headset session${asked === 1 ? "" : "s"} not yet rated` : "");
    if (!view.sessions.length) { box.textContent = "No sessions yet."; return; }
    const table = make("table");
    table.innerHTML = "<thead><tr><th>#</th><th>Date</th><th>Program</th><th>Where</th><th>FMS</th>" +
      "<th>SSQ</th><th>Precautions applied</th></tr></thead>";
    const body = make("tbody");
    for (const s of view.sessions.slice().reverse()) {
      const row = make("tr");
      const cells = [String(s.number), s.started_at ? new Date(s.started_at).toLocaleDateString() : "",
        s.program_title + (s.status === "completed" ? "" : ` (${s.status.replace("_", " ")})`),
        s.target === "xr" ? "headset" : "screen"];
      for (const text of cells) row.append(make("td", "", text));
      const fms = make("td");
      const rate = make("button", s.cybersickness_asked ? "small primary" : "small",
        s.fms === null ? (s.cybersickness_asked ? "Ask now" : "rate") : String(s.fms));
      rate.type = "button";
      rate.title = "How sick do you feel right now? (0-20)";
      rate.addEventListener("click", () => openCyber(s));
      fms.append(rate);
      const applied = make("td", "", s.precautions.length ? s.precautions.join("; ") : "—");
      row.append(fms, make("td", "", s.ssq ? s.ssq.total.toFixed(1) : "—"), applied);
      body.append(row);
    }
    table.append(body);
    box.append(table);
  }

  async function openCyber(session) {
    const slot = byId("course-cyber");
    slot.replaceChildren(make("h3", "", `Cybersickness, session ${session.number} (${session.program_title})`));
    try {
      slot.append(await cyberForm(session.session_id, refresh));
      slot.scrollIntoView({ block: "nearest" });
    } catch (error) {
      slot.append(make("p", "message", error.message));
    }
  }

  // -- intake ------------------------------------------------------------------------------
  function renderIntake(known, intake) {
    const box = byId("intake-precautions");
    const ticked = new Set(intake ? intake.precautions : []);
    box.replaceChildren();
    for (const p of known.precautions) {
      const label = make("label", "check");
      const input = make("input");
      input.type = "checkbox";
      input.value = p.name;
      input.checked = ticked.has(p.name);
      const text = make("span");
      text.append(make("strong", "", p.label), make("small", "", p.rule));
      label.append(input, text);
      box.append(label);
    }
    byId("intake-goals").value = intake ? intake.goals.join("\n") : "";
    byId("intake-referrer").value = intake ? intake.referrer : "";
    byId("intake-summary").textContent = "Intake" + (intake ? ` · ${intake.precautions.length ?
      local.view.precaution_labels.join(", ") : "no precautions"}` : " · not recorded yet");
    byId("intake-message").textContent = "";
  }

  byId("intake-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const precautions = [...byId("intake-precautions").querySelectorAll("input:checked")].map((i) => i.value);
    const goals = byId("intake-goals").value.split("\n").map((g) => g.trim()).filter(Boolean);
    try {
      await api(`/api/clients/${local.clientId}/intake`, { method: "PUT",
        body: { precautions, goals, referrer: byId("intake-referrer").value.trim() } });
      local.previewKey = local.previewFor = null;  // what the precautions change may be different now
      await refresh();
      byId("intake-message").textContent = "saved";
      updateStart();
    } catch (error) {
      byId("intake-message").textContent = error.message;
    }
  });

  // -- plan --------------------------------------------------------------------------------
  function renderPlan(known, plan) {
    byId("plan-sessions").value = plan ? plan.sessions_planned : 8;
    byId("plan-per-week").value = plan ? plan.per_week : 1;
    byId("plan-reassess").value = plan ? plan.reassess_every : 4;
    local.planPrograms = plan ? plan.programs.slice() : [];
    const tracked = new Set(plan ? plan.measures : known.measures.map((m) => m.name));
    const measures = byId("plan-measures");
    measures.replaceChildren();
    for (const m of known.measures) {
      const label = make("label", "check");
      const input = make("input");
      input.type = "checkbox";
      input.value = m.name;
      input.checked = tracked.has(m.name);
      label.append(input, make("span", "", m.label));
      measures.append(label);
    }
    const choices = byId("plan-program-choices");
    choices.replaceChildren();
    for (const program of state.programs || []) {
      const add = make("button", "small", `+ ${program.title}`);
      add.type = "button";
      add.addEventListener("click", () => { local.planPrograms.push(program.id); renderPlanPrograms(); });
      choices.append(add);
    }
    renderPlanPrograms();
    byId("plan-summary").textContent = "Treatment plan" + (plan ? "" : " · none yet");
    byId("plan-message").textContent = "";
  }

  function renderPlanPrograms() {
    const list = byId("plan-programs");
    list.replaceChildren();
    if (!local.planPrograms.length) list.append(make("li", "hint", "no program chosen yet"));
    local.planPrograms.forEach((id, index) => {
      const item = make("li");
      const remove = make("button", "small", `${index + 1}. ${programTitle(id)} ×`);
      remove.type = "button";
      remove.title = "remove from the plan";
      remove.addEventListener("click", () => { local.planPrograms.splice(index, 1); renderPlanPrograms(); });
      item.append(remove);
      list.append(item);
    });
  }

  byId("plan-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const number = (id) => (byId(id).value === "" ? null : Number(byId(id).value));
    const measures = [...byId("plan-measures").querySelectorAll("input:checked")].map((i) => i.value);
    try {
      await api(`/api/clients/${local.clientId}/plan`, { method: "PUT", body: {
        sessions_planned: number("plan-sessions"), per_week: number("plan-per-week"), programs: local.planPrograms,
        measures, reassess_every: number("plan-reassess") } });
      await refresh();
      byId("plan-message").textContent = "saved";
    } catch (error) {
      byId("plan-message").textContent = error.message;
    }
  });

  // -- before the start: what the precautions change ------------------------------------------
  function blocked() {
    // While the preview is asked for, and for a program the precautions refuse, the start waits.
    if (state.clientId === null || state.programId === null) return false;
    if (local.previewFor !== previewKey()) return true;
    return local.preview !== null && local.preview.refused !== null;
  }

  function previewKey() {
    return `${state.clientId}/${state.programId}/${byId("eyes-closed").checked}`;
  }

  async function updatePreview() {
    const box = byId("precaution-preview");
    if (state.clientId === null || state.programId === null) {
      box.hidden = true;
      local.previewKey = null;
      return;
    }
    const key = previewKey();
    if (key === local.previewKey) return;
    local.previewKey = key;
    try {
      const query = byId("eyes-closed").checked ? "?eyes_closed=1" : "";
      const answer = await api(`/api/clients/${state.clientId}/programs/${encodeURIComponent(state.programId)}/precautions${query}`);
      if (local.previewKey !== key) return;  // the choice changed meanwhile
      local.preview = answer;
      local.previewFor = key;
      renderPreview(answer);
    } catch (error) {
      if (local.previewKey !== key) return;
      local.preview = null;  // the start endpoint checks again
      local.previewFor = key;
      box.className = "preview";
      box.replaceChildren(make("p", "", error.message));
      box.hidden = false;
    }
    updateStart();
  }

  function renderPreview(answer) {
    const box = byId("precaution-preview");
    box.className = "preview" + (answer.refused ? " refused" : "");
    box.replaceChildren();
    box.hidden = !answer.precautions.length;
    const labels = answer.precautions.map((p) => p.label).join(", ");
    if (answer.refused) {
      box.append(make("strong", "", "Not for this client"), make("p", "", answer.refused));
      return;
    }
    if (!answer.changes.length) {
      box.append(make("p", "", `The client's precautions (${labels}) change nothing in ${answer.title}.`));
      return;
    }
    box.append(make("p", "", `The client's precautions (${labels}) change ${answer.title}:`));
    const list = make("ul");
    for (const change of answer.changes) list.append(make("li", "", change));
    box.append(list);
  }

  window.tidewellCourse = { clientChosen, refresh: () => (local.clientId === null ? null : refresh()), blocked,
    updatePreview, sessionEnded };
})();
