"use strict";
// The therapist's console: pairing, choosing a client and a program, running and watching a session.
// Every control says what it expects (the phase to leave, the pause state wanted) or carries a
// request id, so a double tap or a resend after a reconnect never acts twice.

const $ = (id) => document.getElementById(id);
const views = ["pair-view", "setup-view", "live-view", "ended-view"];
const state = {
  paired: false, clients: [], programs: [], clientId: null, programId: null, keys: {},
  live: null, points: [], events: [], sessionId: null, socket: null, retryMs: 1000,
  startRequestId: newId(), markerRequestId: newId(), endArmedUntil: 0, shownView: null, dismissed: null,
};

function newId() {
  // crypto.randomUUID needs a secure context, which a LAN address over http is not.
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function show(view) {
  if (state.shownView === view) return;
  state.shownView = view;
  for (const id of views) $(id).hidden = id !== view;
}

async function api(path, options = {}) {
  const response = await fetch(path, {
    credentials: "same-origin", headers: { "Content-Type": "application/json" }, ...options,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  let data = {};
  try { data = await response.json(); } catch (e) { /* not JSON */ }
  if (response.status === 401) { state.paired = false; closeSocket(); showPairView(); }
  if (!response.ok) throw Object.assign(new Error(data.error || `HTTP ${response.status}`), { status: response.status });
  return data;
}

// -- pairing ----------------------------------------------------------------------------
function showPairView() {
  setConnection("offline");
  show("pair-view");
  fetch("/api/pairing-help", { credentials: "same-origin" }).then((r) => r.json()).then((help) => {
    if (!help.url) return;  // only this computer can connect: nothing to scan
    $("pair-url").textContent = help.url;
    $("pair-qr").src = help.qr;
    $("pair-help").hidden = false;
  }).catch(() => { /* the help is a convenience */ });
}

async function pair(code) {
  $("pair-message").textContent = "";
  try {
    await api("/api/pair", { method: "POST", body: { code } });
    state.paired = true;
    await enter();
  } catch (error) {
    $("pair-message").textContent = error.message;
  }
}

$("pair-form").addEventListener("submit", (event) => {
  event.preventDefault();
  pair($("pair-code").value);
});

// -- setup: clients, programs, rating ---------------------------------------------------
async function loadSetup() {
  const [clients, programs, keys] = await Promise.all([api("/api/clients"), api("/api/programs"), api("/api/keymap")]);
  state.clients = clients.clients;
  state.programs = programs.programs;
  state.keys = keys.keys;
  renderClients();
  renderPrograms();
}

function renderClients() {
  const list = $("client-list");
  list.replaceChildren();
  for (const client of state.clients) {
    const button = document.createElement("button");
    button.dataset.clientId = client.id;
    button.className = client.id === state.clientId ? "selected" : "";
    const name = document.createElement("span");
    name.textContent = client.pseudonym;
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = `${client.sessions} session${client.sessions === 1 ? "" : "s"}` +
      (client.last_started ? ` · last ${new Date(client.last_started).toLocaleDateString()}` : "");
    button.append(name, meta);
    button.addEventListener("click", () => chooseClient(client.id));
    const item = document.createElement("li");
    item.append(button);
    list.append(item);
  }
}

async function chooseClient(id) {
  state.clientId = id;
  renderClients();
  updateStart();
  tidewellCourse.clientChosen(id);  // course.js: intake, plan, progress, cybersickness
  const box = $("client-history");
  box.replaceChildren();
  try {
    const history = await api(`/api/clients/${id}`);
    if (!history.sessions.length) { box.textContent = "No sessions yet."; return; }
    const table = document.createElement("table");
    table.innerHTML = "<thead><tr><th>Date</th><th>Program</th><th>HR change</th><th>RMSSD change</th>" +
      "<th>Pain</th><th>Stress</th><th></th></tr></thead>";
    const body = document.createElement("tbody");
    for (const s of history.sessions.slice().reverse()) {
      const row = document.createElement("tr");
      const cells = [
        s.started_at ? new Date(s.started_at).toLocaleDateString() : "",
        s.program_title, signed(s.hr_change_bpm, " bpm"), signed(s.rmssd_change_ms, " ms"),
        beforeAfter(s.pain), beforeAfter(s.stress),
      ];
      for (const text of cells) {
        const td = document.createElement("td");
        td.textContent = text;
        row.append(td);
      }
      const link = document.createElement("td");
      if (s.status !== "running") {
        const a = document.createElement("a");
        a.href = `/sessions/${s.session_id}/report`;
        a.target = "_blank";
        a.rel = "noopener";
        a.textContent = "report";
        link.append(a);
      }
      row.append(link);
      body.append(row);
    }
    table.append(body);
    box.append(table);
  } catch (error) {
    box.textContent = error.message;
  }
}

function signed(value, unit) {
  if (value === null || value === undefined) return "—";
  return `${value > 0 ? "+" : ""}${value.toFixed(1)}${unit}`;
}

function beforeAfter(pair) {
  const [before, after] = pair || [];
  if (before === null && after === null) return "—";
  return `${before ?? "?"} → ${after ?? "?"}`;
}

$("new-client-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const pseudonym = $("new-client").value.trim();
  if (!pseudonym) return;
  try {
    const added = await api("/api/clients", { method: "POST", body: { pseudonym } });
    $("new-client").value = "";
    const clients = await api("/api/clients");
    state.clients = clients.clients;
    await chooseClient(added.id);
  } catch (error) {
    $("setup-message").textContent = error.message;
  }
});

function renderPrograms() {
  const list = $("program-list");
  list.replaceChildren();
  for (const program of state.programs) {
    const button = document.createElement("button");
    button.className = "program" + (program.id === state.programId ? " selected" : "");
    button.dataset.programId = program.id;
    const image = document.createElement("img");
    image.alt = "";
    image.src = `/api/scenes/${encodeURIComponent(mainScene(program))}/thumbnail.png`;
    const text = document.createElement("div");
    const title = document.createElement("div");
    title.className = "title";
    title.textContent = program.title;
    const meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = `${Math.round(program.minutes)} min · ${program.phases.length} phase${program.phases.length === 1 ? "" : "s"}`;
    text.append(title, meta, timeline(program.phases, null, null));
    button.append(image, text);
    button.addEventListener("click", () => { state.programId = program.id; renderPrograms(); updateStart(); });
    const item = document.createElement("li");
    item.append(button);
    list.append(item);
  }
}

function mainScene(program) {
  let best = program.phases[0];
  for (const phase of program.phases) if (phase.minutes > best.minutes) best = phase;
  return best.scene;
}

function timeline(phases, current, progress) {
  const bar = document.createElement("div");
  bar.className = "timeline";
  const total = phases.reduce((sum, p) => sum + p.minutes, 0) || 1;
  phases.forEach((phase, index) => {
    const seg = document.createElement("div");
    seg.className = `seg kind-${phase.kind}` + (current === null ? "" : index < current ? " done" : index === current ? " current" : "");
    seg.style.flex = `${phase.minutes / total} 0 0`;
    seg.title = `${phase.name}: ${phase.minutes.toFixed(1)} min, ${phase.scene}, ${phase.posture}`;
    seg.textContent = phase.name;
    bar.append(seg);
  });
  if (current !== null && progress !== null) {
    const before = phases.slice(0, current).reduce((sum, p) => sum + p.minutes, 0);
    const cursor = document.createElement("div");
    cursor.className = "cursor";
    cursor.style.left = `${100 * (before + progress * phases[current].minutes) / total}%`;
    bar.append(cursor);
  }
  return bar;
}

function buildScale(container) {
  for (let value = 0; value <= 10; value++) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = value;
    button.dataset.value = value;
    button.addEventListener("click", () => {
      const again = button.classList.contains("selected");
      for (const b of container.querySelectorAll("button")) b.classList.remove("selected");
      if (!again) button.classList.add("selected");
    });
    container.append(button);
  }
}
document.querySelectorAll(".scale").forEach(buildScale);

function readRating(id) {
  const box = $(id);
  const out = {};
  for (const scale of box.querySelectorAll(".scale")) {
    const chosen = scale.querySelector("button.selected");
    out[scale.dataset.key] = chosen ? Number(chosen.dataset.value) : null;
  }
  out.note = box.querySelector(".note").value;
  return out;
}

function clearRating(id) {
  const box = $(id);
  for (const b of box.querySelectorAll("button.selected")) b.classList.remove("selected");
  box.querySelector(".note").value = "";
}

function updateStart() {
  // course.js: a program the client's precautions refuse cannot be started
  $("start").disabled = state.clientId === null || state.programId === null || tidewellCourse.blocked();
  tidewellCourse.updatePreview();
}

$("eyes-closed").addEventListener("change", updateStart);

$("start").addEventListener("click", async () => {
  $("setup-message").textContent = "";
  $("start").disabled = true;
  try {
    const minutes = $("program-minutes").value;
    await api("/api/session/start", { method: "POST", body: {
      client_id: state.clientId, program: state.programId, minutes: minutes === "" ? null : Number(minutes),
      before: readRating("before-rating"), request_id: state.startRequestId, eyes_closed: $("eyes-closed").checked,
    } });
    $("setup-message").textContent = "starting…";
  } catch (error) {
    $("setup-message").textContent = error.message;
    updateStart();
  }
});

// -- live -------------------------------------------------------------------------------
function connect() {
  closeSocket();
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const wanted = clientView.wanted() ? 1 : 0;
  const socket = new WebSocket(`${scheme}://${location.host}/ws/live?live_view=${wanted}`);
  state.socket = socket;
  socket.onopen = () => { state.retryMs = 1000; setConnection("live"); };
  socket.onmessage = (message) => {
    if (typeof message.data === "string") receive(JSON.parse(message.data));
    else clientView.show(message.data);  // a binary message: the live view's JPEG
  };
  socket.onclose = (event) => {
    if (state.socket !== socket) return;
    state.socket = null;
    if (event.code === 4401) { state.paired = false; showPairView(); return; }
    setConnection("reconnecting");
    // A refused handshake (e.g. a restarted engine that no longer knows this device's token) reaches
    // the page only as a closed socket: ask the API, whose 401 leads back to the pair view.
    stillPaired().then((paired) => {
      if (paired === false) return;
      setTimeout(() => { if (state.paired && !state.socket) connect(); }, state.retryMs);
      state.retryMs = Math.min(state.retryMs * 2, 5000);
    });
  };
}

async function stillPaired() {
  try {
    await api("/api/me");
    return true;
  } catch (error) {
    return error.status === 401 ? false : null;  // null: the engine is not answering yet
  }
}

function closeSocket() {
  const socket = state.socket;
  state.socket = null;
  if (socket) socket.close();
}

function setConnection(text) {
  $("connection").textContent = text;
  $("connection").dataset.state = text === "live" ? "live" : "offline";
}

// -- what the client sees: the live view of the left eye, JPEG over the socket ----------------
// Shown only here, from memory: the engine never stores these images (no report or export has them).
const clientView = {
  key: "tidewell.clientView", url: null, frames: 0, available: true,
  wanted() {
    try { return localStorage.getItem(this.key) !== "off"; } catch (e) { return true; }
  },
  remember(on) {
    try { localStorage.setItem(this.key, on ? "on" : "off"); } catch (e) { /* private mode: this page only */ }
  },
  show(blob) {
    if (!this.available || !this.wanted()) return;
    const image = $("client-view");
    const previous = this.url;
    this.url = URL.createObjectURL(blob.type ? blob : new Blob([blob], { type: "image/jpeg" }));
    image.onload = () => { if (previous) URL.revokeObjectURL(previous); };
    image.onerror = image.onload;
    image.src = this.url;
    image.hidden = false;
    this.frames += 1;
    image.dataset.frames = String(this.frames);
    $("client-view-note").hidden = true;
  },
  clear(note) {
    const image = $("client-view");
    image.hidden = true;
    image.removeAttribute("src");
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = null;
    $("client-view-note").textContent = note;
    $("client-view-note").hidden = false;
  },
  update(available) {
    this.available = available;
    const toggle = $("client-view-toggle");
    toggle.disabled = !available;
    toggle.checked = available && this.wanted();
    if (!available) this.clear("Off at the engine (started with --no-live-view).");
    else if (!this.wanted()) this.clear("Off. Turn it on to see the client's view (left eye).");
    else if (!this.url) this.clear("Waiting for the first picture…");
  },
};

$("client-view-toggle").addEventListener("change", (event) => {
  const on = event.target.checked;
  clientView.remember(on);
  if (state.socket && state.socket.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify({ live_view: on }));
  clientView.clear("");
  clientView.update(clientView.available);
});

function receive(view) {
  if (view.session_id !== state.sessionId) clientView.clear("");
  clientView.update(view.live_view !== false);
  if (view.points_from === 0 || view.session_id !== state.sessionId) {
    state.points = [];
    state.events = [];
    $("alerts").replaceChildren();  // the full event list follows, alerts included
  }
  state.sessionId = view.session_id;
  state.points.push(...view.points);
  state.events.push(...view.events);
  state.live = view;
  for (const event of view.events) if (event.kind === "alert") addAlert(event);
  if (view.status === "running" || view.status === "ending") {
    show("live-view");
    renderLive(view);
  } else if (view.status === "ended" && view.session_id !== state.dismissed) {
    show("ended-view");
    renderEnded(view);
  } else if (view.status === "idle" || view.status === "starting" || view.status === "ended") {
    if (state.shownView !== "setup-view") {
      show("setup-view");
      loadSetup().catch((error) => { $("setup-message").textContent = error.message; });
    }
    const failed = view.events.filter((e) => e.kind === "start_failed").pop();
    if (failed) {
      $("setup-message").textContent = `${failed.label || "could not start"}: ${failed.detail}`;
      state.startRequestId = newId();
      updateStart();
    }
    if (view.status === "starting") $("setup-message").textContent = "starting…";
    else if (!failed) $("setup-message").textContent = "";
  }
}

function renderLive(view) {
  const latest = view.latest || {};
  const program = view.program || { title: "", phases: [] };
  $("live-title").textContent = `${program.title} · client #${view.client_id}`;
  const phase = program.phases[latest.phase] || {};
  $("live-phase").textContent = phase.name ? `Phase ${latest.phase + 1} of ${program.phases.length}: ${phase.name} ` +
    `(${phase.scene}, ${phase.posture})` : "";
  const status = view.status === "ending" ? "ending" : latest.paused ? "paused" : "live";
  $("live-status").textContent = status === "live" ? `session ${view.session_id}` : status;
  $("live-status").dataset.state = status;
  // Until the corrected rate is there (25-30 s), the raw beats' rate, marked provisional
  const provisional = latest.hr === null && latest.hr_provisional !== null && latest.hr_provisional !== undefined;
  $("hr").textContent = provisional ? `~${fixed(latest.hr_provisional, 0)}` : fixed(latest.hr, 0);
  $("hr").classList.toggle("provisional", provisional);
  $("hr").title = provisional ? "provisional: from the raw beats, before artefact correction" : "";
  $("rmssd").textContent = fixed(latest.rmssd, 0);
  $("pace").textContent = fixed(latest.pace, 1);
  $("calm").textContent = latest.calm === null || latest.calm === undefined ? "—" : Math.round(100 * latest.calm);
  $("pause").textContent = latest.paused ? "Resume" : "Pause";
  $("next").disabled = view.status !== "running" || latest.phase >= program.phases.length - 1;
  $("timeline").replaceWith(Object.assign(timeline(program.phases, latest.phase ?? 0, latest.phase_progress ?? 0), { id: "timeline" }));
  if (phase.minutes) {
    const phaseLeft = Math.max(0, phase.minutes * 60 - (latest.phase_elapsed_s || 0));
    const after = program.phases.slice((latest.phase ?? 0) + 1).reduce((sum, p) => sum + p.minutes * 60, 0);
    const here = phaseLeft === 0 && phase.waits ? "this phase waits for Next phase"
      : `${clock(phaseLeft)} left in this phase${phase.waits ? " (then it waits for Next phase)" : ""}`;
    $("time-left").textContent = `${here} · ${clock(phaseLeft + after)} left in the session` +
      (latest.sensor !== "ok" ? ` · ${SENSOR_STATES[latest.sensor] || `sensor: ${latest.sensor}`}` : "") +
      (latest.hr !== null ? "" : provisional ? " · heart rate provisional (raw beats) until the corrected rate is ready"
        : " · heart rate shows within seconds of the first beats");
  }
  renderEvents();
  drawPlot();
}

const SENSOR_STATES = {
  no_data: "no heart data: the sensor has sent nothing since the session began (is the strap worn and on?)",
  no_contact: "sensor: no skin contact",
  lost: "sensor: lost",
};

function renderEvents() {
  const list = $("events");
  list.replaceChildren();
  for (const event of state.events.slice(-40).reverse()) {
    const item = document.createElement("li");
    item.className = event.kind;
    const t = document.createElement("span");
    t.className = "t";
    t.textContent = clock(event.t_s);
    item.append(t, document.createTextNode(`${event.label || event.kind.replace(/_/g, " ")}: ${event.detail}`));
    list.append(item);
  }
}

function addAlert(event) {
  const box = document.createElement("div");
  box.className = "alert";
  box.textContent = `${clock(event.t_s)} — ${event.detail}`;
  $("alerts").prepend(box);
  while ($("alerts").children.length > 3) $("alerts").lastChild.remove();
}

function fixed(value, digits) {
  return value === null || value === undefined ? "—" : value.toFixed(digits);
}

function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function drawPlot() {
  const canvas = $("plot");
  const width = canvas.clientWidth;
  if (!width) return;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = width * ratio;
  canvas.height = 220 * ratio;
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  g.clearRect(0, 0, width, 220);
  const points = state.points;
  if (points.length < 2) return;
  const end = points[points.length - 1][0];
  const start = Math.max(points[0][0], end - 600); // the last ten minutes scroll by
  const shown = points.filter((p) => p[0] >= start);
  const series = [
    { index: 1, color: "#d98c7a", label: "HR", format: (v) => v.toFixed(0), minSpan: 10 },
    { index: 2, color: "#7fb3d5", label: "RMSSD", format: (v) => v.toFixed(0), minSpan: 20 },
    { index: 3, color: "#a9c68a", label: "pace", format: (v) => v.toFixed(1), minSpan: 2 },
    { index: 4, color: "#c9b2e0", label: "calm", format: (v) => `${Math.round(100 * v)}%`, minSpan: 0.2 },
  ];
  series.forEach((s, n) => {
    const values = shown.map((p) => p[s.index]).filter((v) => v !== null);
    let low = Math.min(...values), high = Math.max(...values);
    g.fillStyle = s.color;
    g.font = "13px system-ui";
    const range = !values.length ? " —" : s.format(low) === s.format(high) ? ` ${s.format(low)}`
      : ` ${s.format(low)}–${s.format(high)}`;
    g.fillText(s.label + range, 10 + n * 150, 16);
    if (values.length < 2) return;
    const span = Math.max(high - low, s.minSpan);  // a steady value draws as a steady line, not as noise
    low = (low + high - span) / 2;
    high = low + span;
    g.strokeStyle = s.color;
    g.lineWidth = 2;
    g.beginPath();
    let drawing = false;
    for (const p of shown) {
      if (p[s.index] === null) { drawing = false; continue; }
      const x = 8 + (width - 16) * (p[0] - start) / Math.max(end - start, 1);
      const y = 30 + (220 - 40) * (1 - (p[s.index] - low) / (high - low));
      if (drawing) g.lineTo(x, y); else g.moveTo(x, y);
      drawing = true;
    }
    g.stroke();
  });
}

async function control(action, extra = {}) {
  try {
    return await api("/api/session/control", { method: "POST", body: { action, ...extra } });
  } catch (error) {
    $("time-left").textContent = error.message;
    return null;
  }
}

function nextPhase() {
  const latest = (state.live && state.live.latest) || {};
  if (latest.phase === undefined) return;
  control("next", { from_phase: latest.phase, request_id: newId() });
}

function togglePause() {
  const latest = (state.live && state.live.latest) || {};
  control("pause", { paused: !latest.paused, request_id: newId() });
}

async function addMarker(text) {
  const requestId = state.markerRequestId;
  const done = await control("marker", { text: text || "marker", request_id: requestId });
  if (done) { state.markerRequestId = newId(); $("marker-text").value = ""; }
}

function endSession() {
  const button = $("end");
  if (Date.now() < state.endArmedUntil) {
    state.endArmedUntil = 0;
    button.classList.remove("armed");
    button.textContent = "End session";
    control("end", { request_id: newId() });
    return;
  }
  state.endArmedUntil = Date.now() + 3000;
  button.classList.add("armed");
  button.textContent = "Tap again to end";
  setTimeout(() => {
    if (Date.now() >= state.endArmedUntil) { button.classList.remove("armed"); button.textContent = "End session"; }
  }, 3100);
}

$("next").addEventListener("click", nextPhase);
$("pause").addEventListener("click", togglePause);
$("end").addEventListener("click", endSession);
$("marker-form").addEventListener("submit", (event) => { event.preventDefault(); addMarker($("marker-text").value.trim()); });
$("marker-text").addEventListener("input", () => { state.markerRequestId = newId(); });

// Foot pedals type keys; the engine's keys.toml says which key does what.
const KEY_NAMES = { " ": "SPACE", Enter: "ENTER", Escape: "ESCAPE", Tab: "TAB", Backspace: "BACKSPACE",
  PageUp: "PAGEUP", PageDown: "PAGEDOWN", Home: "HOME", End: "END", ArrowLeft: "LEFT", ArrowRight: "RIGHT",
  ArrowUp: "UP", ArrowDown: "DOWN" };
document.addEventListener("keydown", (event) => {
  if (state.shownView !== "live-view") return;
  const typing = event.target instanceof HTMLInputElement;
  const name = KEY_NAMES[event.key] || (event.key.length === 1 ? event.key.toUpperCase() : event.key.toUpperCase());
  const action = state.keys[name];
  if (!action || (typing && (event.key.length === 1 || name === "BACKSPACE"))) return;
  event.preventDefault();
  if (action === "next") nextPhase();
  else if (action === "pause") togglePause();
  else if (action === "marker") addMarker($("marker-text").value.trim() || "marker (pedal)");
  else if (action === "end") endSession();
});

// -- after the session ------------------------------------------------------------------
function renderEnded(view) {
  const words = { completed: "completed", ended_early: "ended early", interrupted: "interrupted" };
  const failed = state.events.filter((e) => e.kind === "session_failed").pop();
  $("ended-summary").textContent = `Session ${view.session_id} ${words[view.result] || view.result} · client #${view.client_id}` +
    (failed ? ` · ${failed.label}: ${failed.detail}` : "");
  $("report-link").href = `/sessions/${view.session_id}/report`;
  tidewellCourse.sessionEnded(view.session_id);  // course.js: the cybersickness rating (asked after the headset)
}

$("save-after").addEventListener("click", async () => {
  try {
    await api(`/api/sessions/${state.sessionId}/rating`, { method: "POST", body: { moment: "after", ...readRating("after-rating") } });
    $("after-message").textContent = "saved";
  } catch (error) {
    $("after-message").textContent = error.message;
  }
});

$("new-session").addEventListener("click", () => {
  state.dismissed = state.sessionId;
  clearRating("before-rating");
  clearRating("after-rating");
  $("after-message").textContent = "";
  $("setup-message").textContent = "";
  state.startRequestId = newId();
  show("setup-view");
  loadSetup().then(updateStart).then(tidewellCourse.refresh)
    .catch((error) => { $("setup-message").textContent = error.message; });
});

// -- start ------------------------------------------------------------------------------
async function enter() {
  show("setup-view");
  await loadSetup();
  updateStart();
  connect();
}

async function boot() {
  const match = location.hash.match(/pair=(\d{6})/);
  if (match) history.replaceState(null, "", location.pathname); // the code leaves the address bar at once
  try {
    await api("/api/me");
    state.paired = true;
    await enter();
  } catch (error) {
    showPairView();
    if (match) await pair(match[1]);
  }
}

window.addEventListener("resize", drawPlot);
boot();
