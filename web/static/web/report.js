// The report page: a live grid while the report builds, then every section readable.
//
// Polling: GET the status with ?detail=tasks and If-None-Match every POLL_MS; a 304 costs the server
// one cached lookup. Polling stops when the report is terminal. The merged data is fetched only when
// the status shows a change that can change it (a section ended, or the status moved), at most once per
// such change and no more often than DATA_MIN_INTERVAL_MS: never on every poll (docs/frontend.md).
//
// Every text from the server is inserted with textContent (el() below), never as HTML, so a report or
// player name is inert whatever it contains.
"use strict";
(function () {
  const POLL_MS = 1500;
  const DATA_MIN_INTERVAL_MS = 2500;
  const TERMINAL = new Set(["complete", "failed", "cancelled"]);
  const config = JSON.parse(document.getElementById("report-config").textContent);
  const $ = (id) => document.getElementById(id);
  const playerIds = config.players.map((p) => p.id);
  const inReport = new Set(playerIds);
  const reportSections = new Set(config.sections.map((s) => s.name));

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  const fmt = (value, digits = 2) => {
    if (value === null || value === undefined) return "–";
    if (typeof value !== "number") return String(value);
    return Number.isInteger(value) ? String(value) : value.toFixed(digits);
  };
  const pct = (value) => (value === null || value === undefined ? "–" : `${Math.round(value)}%`);

  function table(headers, rows, numeric) {
    return el("div", { class: "table-wrap" },
      el("table", { class: "figures" },
        el("thead", {}, el("tr", {}, headers.map((h, i) => el("th", { class: numeric(i) ? "num" : null }, h)))),
        el("tbody", {}, rows.map((row) => el("tr", {}, row.map((cell, i) => el("td", { class: numeric(i) ? "num" : null }, cell)))))));
  }

  // --- The progress grid ------------------------------------------------------------------
  let gridBuilt = false;
  function buildGrid() {
    const grid = $("grid");
    if (!grid || gridBuilt) return;
    grid.tHead.append(el("tr", {}, el("th", {}, "Player"), config.sections.map((s) => el("th", {}, s.label))));
    for (const player of config.players) {
      grid.tBodies[0].append(el("tr", {},
        el("th", {}, el("a", { href: `#player-${player.id}` }, player.short_name || player.name)),
        config.sections.map((s) => el("td", { id: `cell-${player.id}-${s.name}`, class: "cell queued" }, "queued"))));
    }
    gridBuilt = true;
  }

  function updateGrid(tasks) {
    for (const task of tasks) {
      const cell = $(`cell-${task.player}-${task.section}`);
      if (!cell) continue;
      const state = task.state === "done" && task.reused ? "reused" : task.state;
      cell.className = `cell ${state}`;
      const label = state === "retrying" ? `retrying (${task.attempts})` : state;
      if (state === "failed") {
        cell.replaceChildren(el("span", {}, "failed"), el("small", { class: "error" }, task.error || ""));
        cell.title = task.error || "failed";
      } else {
        cell.replaceChildren(label);
        cell.title = task.error ? `${label}: ${task.error}` : label;
      }
    }
  }

  function describeEta(seconds) {
    if (seconds === null || seconds === undefined) return "";
    if (seconds <= 0) return "";
    if (seconds < 60) return `about ${seconds} s left`;
    return `about ${Math.floor(seconds / 60)} min ${seconds % 60} s left`;
  }

  function updateStatus(status) {
    const pill = $("status-pill");
    pill.textContent = status.status;
    pill.className = `pill ${status.status}`;
    if (!status.progress) return;
    const { fast, slow, percent } = status.progress;
    const bar = $("progress-bar");
    if (bar) bar.firstElementChild.style.width = `${percent}%`;
    const ended = fast.done + fast.failed + slow.done + slow.failed;
    const total = fast.total + slow.total;
    $("progress-text").textContent =
      `${ended} of ${total} sections (${Math.round(percent)}%) · fast ${fast.done + fast.failed}/${fast.total} · slow ${slow.done + slow.failed}/${slow.total}` +
      (fast.failed + slow.failed ? ` · ${fast.failed + slow.failed} failed` : "") +
      (fast.reused + slow.reused ? ` · ${fast.reused + slow.reused} reused` : "");
    $("eta-text").textContent = TERMINAL.has(status.status) ? "" : describeEta(status.eta_seconds);
    $("queue-text").textContent = TERMINAL.has(status.status) ? "" : describeQueue(status);
    const retry = $("retry-form");
    if (retry) retry.hidden = fast.failed + slow.failed === 0 || !TERMINAL.has(status.status);
    const cancel = $("cancel-form");
    if (cancel) cancel.hidden = TERMINAL.has(status.status);
  }

  // Where the report stands among the others (the status body's queue, docs/api.md).
  function describeQueue(status) {
    const queue = status.queue;
    if (!queue) return "";
    const n = queue.sections_ahead;
    const ahead = n ? `${n} section${n === 1 ? "" : "s"} of other reports ahead` : "";
    if (status.status === "waiting") {
      const place = queue.position === 1 ? "next of your reports to start" : `number ${queue.position} of your reports waiting`;
      return `Waiting for room under your limit of outstanding sections: ${place}` + (ahead ? ` · ${ahead}` : "");
    }
    return ahead;
  }

  // --- Polling -----------------------------------------------------------------------------
  let etag = null;
  let dataKey = null;
  let lastDataAt = 0;
  let dataTimer = null;
  let dataWanted = false;

  function changeKey(status) {
    const p = status.progress;
    return [status.status, status.ready_at, p.fast.done, p.fast.failed, p.slow.done, p.slow.failed].join("|");
  }

  async function poll() {
    let response;
    try {
      response = await fetch(`${config.statusUrl}?detail=tasks`, {
        headers: Object.assign({ Accept: "application/json" }, etag ? { "If-None-Match": etag } : {}),
        credentials: "same-origin",
        cache: "no-store",
      });
    } catch (error) {
      setTimeout(poll, POLL_MS * 2);
      return;
    }
    if (response.status === 200) {
      etag = response.headers.get("ETag");
      const status = await response.json();
      updateStatus(status);
      updateGrid(status.tasks || []);
      // The data can be read once the report is ready (every fast section ended), or cancelled.
      if ((status.ready_at || status.status === "cancelled") && changeKey(status) !== dataKey) {
        dataKey = changeKey(status);
        requestData();
      }
      if (TERMINAL.has(status.status)) {
        if (status.status === "complete") $("grid-box").open = false;
        return; // terminal: no more polling
      }
    } else if (response.status !== 304) {
      $("data-note").textContent = `The status could not be read (HTTP ${response.status}); trying again.`;
    }
    setTimeout(poll, POLL_MS);
  }

  // One fetch per change, spaced by DATA_MIN_INTERVAL_MS; changes seen meanwhile make one trailing fetch.
  function requestData() {
    dataWanted = true;
    if (dataTimer) return;
    const wait = Math.max(0, lastDataAt + DATA_MIN_INTERVAL_MS - Date.now());
    dataTimer = setTimeout(async () => {
      dataTimer = null;
      if (!dataWanted) return;
      dataWanted = false;
      lastDataAt = Date.now();
      await loadData();
      if (dataWanted) requestData();
    }, wait);
  }

  async function loadData() {
    const response = await fetch(config.dataUrl, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" });
    if (response.status === 202) return;
    if (!response.ok) {
      $("data-note").textContent = `The report's data could not be read (HTTP ${response.status}).`;
      return;
    }
    renderData(await response.json());
  }

  // --- The sections ---------------------------------------------------------------------------
  const rendered = new Map(); // panel id -> signature of what it shows

  function failedBlock(error) {
    return el("div", { class: "section-failed" },
      el("p", {}, el("strong", {}, "This section failed: "), error || "no error recorded"),
      config.shared ? null : el("button", { type: "submit", form: "retry-form", class: "danger small" }, "Retry the failed sections"));
  }

  function playerLink(id, text) {
    if (inReport.has(id)) return el("a", { href: `#player-${id}` }, text);
    if (config.playerUrl) return el("a", { href: config.playerUrl.replace(/\/0\/$/, `/${id}/`) }, text);
    return el("span", {}, text);
  }

  function image(url, alt) {
    return url ? el("a", { href: url, target: "_blank", rel: "noopener" }, el("img", { src: url, alt, loading: "lazy", class: "picture" })) : null;
  }

  const PANELS = [
    { id: "season", title: "Season", needs: ["season_stats"], also: ["percentiles"], wide: true, render: renderSeason },
    { id: "matches", title: "Match log", needs: ["match_log"], wide: true, render: renderMatches },
    { id: "shots", title: "Shot map", needs: ["shot_map"], also: ["visuals"], render: renderShots },
    { id: "heatmap", title: "Heatmap", needs: ["heatmap"], also: ["visuals"], render: renderHeatmap },
    { id: "pizza", title: "Percentiles", needs: ["percentiles"], render: renderPizza },
    { id: "similar", title: "Similar players", needs: ["similar_players"], render: renderSimilar },
    { id: "xt", title: "Expected threat", needs: ["expected_threat"], wide: true, render: renderXt },
    { id: "value", title: "Possession value", needs: ["possession_value"], wide: true, render: renderValue },
    { id: "passes", title: "Pass map", needs: ["visuals"], render: renderPassMap },
    { id: "defence", title: "Defensive actions", needs: ["visuals"], render: renderDefence },
  ];

  function mainRow(rows) {
    return (rows || []).reduce((best, row) => (!best || (row.minutes || 0) > (best.minutes || 0) ? row : best), null);
  }

  function peerPool(percentiles) {
    const row = mainRow(percentiles && percentiles.competitions);
    if (!row) return null;
    let text = `Peer pool (percentiles): ${row.pool_size} ${row.role} players with at least ${row.min_minutes} minutes in ${row.competition} ${row.season}`;
    if (row.small_sample || !row.meets_min_minutes) text += `; this player has ${row.minutes}, below the threshold: a small sample, shown without ranks`;
    return text + ".";
  }

  function renderSeason(s) {
    const rows = (s.season_stats.competitions || []);
    const totals = table(
      ["Competition", "Team", "Apps", "Starts", "Min", "Goals", "Assists", "Shots", "On target", "xG", "npxG", "Passes", "Pass %", "Key passes", "Duels won %", "Cards"],
      rows.map((r) => [`${r.competition} ${r.season}`, r.team, r.appearances, r.starts, r.minutes, r.goals, r.assists, r.shots, r.shots_on_target, fmt(r.xg), fmt(r.npxg), r.passes, pct(r.pass_accuracy_pct), r.key_passes, pct(r.duels_won_pct), `${r.yellow_cards}Y ${r.red_cards}R`]),
      (i) => i >= 2 && i <= 14);
    const per90Keys = [["goals", "Goals"], ["non_penalty_goals", "NP goals"], ["assists", "Assists"], ["shots", "Shots"], ["shots_on_target", "On target"], ["xg", "xG"], ["npxg", "npxG"], ["xa", "xA"], ["key_passes", "Key passes"], ["passes", "Passes"], ["progressive_passes", "Prog. passes"], ["progressive_carries", "Prog. carries"], ["passes_into_box", "Passes into box"], ["duels_won", "Duels won"], ["defensive_actions", "Def. actions"]];
    const per90 = table(
      ["Per 90", "Min", ...per90Keys.map(([, label]) => label)],
      rows.map((r) => [`${r.competition} ${r.season}`, r.minutes, ...per90Keys.map(([key]) => fmt((r.per90 || {})[key]))]),
      (i) => i >= 1);
    const pool = peerPool(s.percentiles);
    return [totals, el("h4", {}, "Per 90 minutes"), per90,
      el("p", { class: "muted small" }, pool || (reportSections.has("percentiles") ? "The peer pool is stated when the percentiles section is done." : null))];
  }

  function renderMatches(s) {
    const matches = s.match_log.matches || [];
    if (!matches.length) return el("p", { class: "muted" }, "No matches played in the data.");
    return table(["Date", "Competition", "Opponent", "", "Result", "Min", "Goals", "Assists", "Shots", "xG", "Passes"],
      matches.map((m) => [m.date, m.competition, m.opponent, m.venue === "home" ? "H" : "A", `${m.result} ${m.score}${m.penalties ? " (pens)" : ""}`, m.minutes, m.goals, m.assists, m.shots, fmt(m.xg), m.passes]),
      (i) => i >= 5);
  }

  function imageUrls(s) {
    return (s.visuals && s.visuals.image_urls) || {};
  }

  function pictureOrWait(s, name, alt, player) {
    if (s.visuals) return image(imageUrls(s)[name], alt);
    if (!reportSections.has("visuals")) return null;
    if (player.failed.visuals) return el("p", { class: "muted small" }, "The pictures failed (see Pictures).");
    if (player.cancelled.visuals) return el("p", { class: "muted small" }, "Not drawn: the report was cancelled.");
    return el("p", { class: "muted small waiting" }, "The picture is being drawn…");
  }

  function renderShots(s, player) {
    const t = s.shot_map.totals || {};
    return [
      pictureOrWait(s, "shot_map", `Shot map of ${player.name}`, player),
      el("p", { class: "small" }, `${t.shots} shots, ${t.goals} goals, ${t.on_target} on target, xG ${fmt(t.xg)} (npxG ${fmt(t.npxg)}), ${t.in_penalty_area} from inside the box.`),
    ];
  }

  function renderHeatmap(s, player) {
    const h = s.heatmap;
    const thirds = h.thirds_pct || {};
    return [
      pictureOrWait(s, "heatmap", `Heatmap of ${player.name}`, player),
      el("p", { class: "small" }, `${h.touches} touches; by third: ${["defensive", "middle", "attacking"].filter((k) => k in thirds).map((k) => `${k} ${thirds[k] === null ? "–" : thirds[k] + "%"}`).join(", ")}; ${h.penalty_area} in the opponents' box.`),
    ];
  }

  function renderPizza(s, player) {
    const row = mainRow(s.percentiles.competitions);
    if (!row) return el("p", { class: "muted" }, "No competition to rank the player in.");
    const url = `${config.base}players/${player.id}/pizza.png`;
    return [image(url, `Percentile pizza of ${player.name}`), el("p", { class: "muted small" }, peerPool(s.percentiles))];
  }

  function renderSimilar(s) {
    const sp = s.similar_players;
    if (!sp.players || !sp.players.length) return el("p", { class: "muted" }, sp.reason || "No similar players found.");
    return [
      el("p", { class: "muted small" }, `Most similar ${sp.role} by per-90 profile in ${sp.competition.competition} ${sp.competition.season}, out of ${sp.pool_size}.`),
      el("ol", { class: "similar" }, sp.players.map((p) => el("li", {},
        playerLink(p.id, p.name || p.short_name || `Player ${p.id}`), " ",
        el("span", { class: "muted small" }, `${p.team ? p.team.name : ""} · ${p.minutes} min · similarity ${fmt(p.similarity, 2)}`)))),
    ];
  }

  function renderXt(s) {
    const x = s.expected_threat;
    const rows = (x.competitions || []).map((c) => [`${c.competition} ${c.season}`, c.matches, c.minutes, fmt(c.xt_added, 3), fmt(c.xt_added_per90, 3), `${c.passes.count} / ${fmt(c.passes.xt_added, 3)}`, `${c.carries.count} / ${fmt(c.carries.xt_added, 3)}`]);
    const top = (x.top_moves || []).slice(0, 5).map((m) => [m.date, m.match, `${m.minute}'`, m.kind, fmt(m.xt_added, 3)]);
    return [
      table(["Competition", "Matches", "Min", "xT added", "per 90", "Passes (n / xT)", "Carries (n / xT)"], rows, (i) => i >= 1 && i <= 4),
      top.length ? el("h4", {}, "Moves that added most") : null,
      top.length ? table(["Date", "Match", "Minute", "Kind", "xT"], top, (i) => i === 4) : null,
    ];
  }

  function renderValue(s) {
    const v = s.possession_value;
    const rows = (v.competitions || []).map((c) => [`${c.competition} ${c.season}`, c.minutes, c.actions, fmt(c.total, 2), fmt(c.per90.total, 3), fmt(c.offensive, 2), fmt(c.defensive, 2)]);
    const main = mainRow(v.competitions);
    const top = ((main && main.top_actions) || []).slice(0, 5).map((a) => [a.date, a.match, `${a.minute}'`, a.action, fmt(a.value, 3)]);
    return [
      table(["Competition", "Min", "Actions", "Value", "per 90", "Offensive", "Defensive"], rows, (i) => i >= 1),
      top.length ? el("h4", {}, "Most valuable actions") : null,
      top.length ? table(["Date", "Match", "Minute", "Action", "Value"], top, (i) => i === 4) : null,
    ];
  }

  function renderDefence(s, player) {
    return image(imageUrls(s).defensive_actions, `Defensive actions of ${player.name}`);
  }

  function renderPassMap(s, player) {
    return image(imageUrls(s).pass_map, `Pass map of ${player.name}`);
  }

  function playerCard(player) {
    let card = $(`player-${player.id}`);
    if (card) return card;
    const header = el("div", { class: "player-head" },
      el("h2", {}, player.name),
      el("div", { class: "facts-line muted", id: `facts-${player.id}` }),
      config.shared ? null : el("label", { class: "check compare-pick" }, el("input", { type: "checkbox", value: String(player.id), class: "compare-box" }), " compare"));
    card = el("section", { class: "card player", id: `player-${player.id}` }, header, el("div", { class: "panels", id: `panels-${player.id}` }));
    $("players").append(card);
    return card;
  }

  function renderProfile(player, sections) {
    const p = sections.profile;
    const facts = $(`facts-${player.id}`);
    if (!p) { facts.textContent = player.role || ""; return; }
    const team = (p.teams || []).slice(-1)[0];
    const bits = [p.role, p.age_at_season_end !== null ? `${p.age_at_season_end} years (season end)` : null,
      p.birth_date ? `born ${p.birth_date}` : null, p.nationality, p.height_cm ? `${p.height_cm} cm` : null,
      p.weight_kg ? `${p.weight_kg} kg` : null, p.foot ? `${p.foot} foot` : null, team ? team.name : null].filter(Boolean);
    facts.textContent = bits.join(" · ");
  }

  function renderData(doc) {
    const cancelled = doc.cancelled || [];
    $("data-note").textContent = doc.complete ? ""
      : cancelled.length ? `The report was cancelled: ${cancelled.length} section${cancelled.length > 1 ? "s" : ""} never ran. What had finished is shown.`
      : "Slow sections are still being computed; they appear here as they end.";
    const cancelledBy = {};
    for (const c of cancelled) (cancelledBy[c.player] = cancelledBy[c.player] || {})[c.section] = true;
    const failedBy = {};
    for (const f of doc.failed || []) (failedBy[f.player] = failedBy[f.player] || {})[f.section] = f.error;
    const pendingBy = {};
    for (const p of doc.pending || []) (pendingBy[p.player] = pendingBy[p.player] || {})[p.section] = true;

    const failedBox = $("failed-box");
    if ((doc.failed || []).length) {
      const names = Object.fromEntries(config.players.map((p) => [p.id, p.name]));
      failedBox.replaceChildren(
        el("strong", {}, `${doc.failed.length} section${doc.failed.length > 1 ? "s" : ""} failed:`),
        el("ul", {}, doc.failed.map((f) => el("li", {}, `${names[f.player] || f.player}, ${f.section}: ${f.error || "no error recorded"}`))),
        config.shared ? null : el("button", { type: "submit", form: "retry-form", class: "danger small" }, "Retry the failed sections"));
      failedBox.hidden = false;
    } else failedBox.hidden = true;

    const index = $("player-index");
    if (index.hidden && config.players.length > 1) {
      index.append(...config.players.map((p) => el("a", { href: `#player-${p.id}` }, p.short_name || p.name)));
      index.hidden = false;
    }

    for (const meta of config.players) {
      const sections = doc.players[String(meta.id)] || {};
      const player = { ...meta, name: (sections.profile && sections.profile.name) || meta.name, failed: failedBy[meta.id] || {}, pending: pendingBy[meta.id] || {}, cancelled: cancelledBy[meta.id] || {} };
      playerCard(player);
      renderProfile(player, sections);
      const panels = $(`panels-${meta.id}`);
      for (const panel of PANELS) {
        const names = [...panel.needs, ...(panel.also || [])];
        if (!panel.needs.every((n) => reportSections.has(n))) continue;
        // What the panel shows: its sections as stored (picture keys, not signed URLs, which change).
        const signature = JSON.stringify(names.map((n) => {
          const value = sections[n];
          if (value) return n === "visuals" ? value.images : value;
          return player.failed[n] !== undefined ? `failed:${player.failed[n]}` : player.pending[n] ? "pending" : player.cancelled[n] ? "cancelled" : "absent";
        }));
        const id = `${meta.id}-${panel.id}`;
        if (rendered.get(id) === signature) continue;
        rendered.set(id, signature);
        let body;
        const missing = panel.needs.find((n) => !sections[n]);
        if (missing && player.failed[missing] !== undefined) body = failedBlock(player.failed[missing]);
        else if (missing && player.cancelled[missing]) body = el("p", { class: "muted" }, "Not computed: the report was cancelled.");
        else if (missing) body = el("p", { class: "muted waiting" }, "Being computed…");
        else body = panel.render(sections, player);
        const node = el("div", { class: `panel${panel.wide ? " wide" : ""}`, id: `panel-${id}`, "data-panel": panel.id }, el("h3", {}, panel.title), body);
        const old = $(`panel-${id}`);
        if (old) old.replaceWith(node);
        else panels.append(node);
      }
    }
  }

  // --- Compare selection -------------------------------------------------------------------
  document.addEventListener("change", (event) => {
    if (!event.target.classList.contains("compare-box")) return;
    const ids = [...document.querySelectorAll(".compare-box:checked")].map((box) => box.value);
    $("compare-players").value = ids.join(",");
    $("compare-button").disabled = ids.length < 2 || ids.length > 4;
    $("compare-hint").textContent = ids.length ? `${ids.length} selected (2 to 4).` : "Tick 2 to 4 players below.";
  });

  const cancelForm = $("cancel-form");
  if (cancelForm) {
    cancelForm.addEventListener("submit", (event) => {
      if (!window.confirm("Cancel this report? Sections not started will not run; what finished stays readable.")) event.preventDefault();
    });
  }

  if (config.shared) {
    loadData();
  } else {
    buildGrid();
    updateStatus(config.status);
    poll();
  }
})();
