// The create page: search players and teams through the read API (session auth), keep the chosen list.
// Every text from the API goes in with textContent, never as HTML.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const chosen = $("chosen");

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children.flat()) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  async function getJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) throw new Error(`${response.status} ${url}`);
    return response.json();
  }

  function chosenIds() {
    return new Set([...chosen.querySelectorAll("li")].map((li) => Number(li.dataset.id)));
  }

  function refreshCount() {
    const count = chosen.querySelectorAll("li").length;
    $("chosen-count").textContent = count ? `(${count})` : "";
    $("chosen-empty").hidden = count > 0;
  }

  function addPlayer(player) {
    if (chosenIds().has(player.id)) return false;
    chosen.append(
      el("li", { "data-id": String(player.id) },
        el("input", { type: "hidden", name: "players", value: String(player.id) }),
        el("span", {}, player.name), " ",
        el("span", { class: "muted small" }, player.role || ""), " ",
        el("button", { type: "button", class: "link remove" }, "remove")),
    );
    refreshCount();
    return true;
  }

  chosen.addEventListener("click", (event) => {
    if (event.target.classList.contains("remove")) {
      event.target.closest("li").remove();
      refreshCount();
    }
  });

  function debounce(fn, ms) {
    let timer;
    return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  }

  const playerResults = $("player-results");
  $("player-search").addEventListener("input", debounce(async (event) => {
    const query = event.target.value.trim();
    playerResults.replaceChildren();
    if (query.length < 2) return;
    const page = await getJson(`/api/players/?search=${encodeURIComponent(query)}&page_size=15`);
    if (!page.results.length) playerResults.append(el("li", { class: "muted" }, "No player by that name."));
    for (const player of page.results) {
      const button = el("button", { type: "button", class: "secondary small add-player", "data-id": String(player.id) }, "Add");
      button.addEventListener("click", () => { addPlayer(player); button.disabled = true; button.textContent = "Added"; });
      playerResults.append(el("li", {},
        button, " ", el("span", { class: "player-name" }, player.name), " ",
        el("span", { class: "muted small" }, [player.role, player.team && player.team.name].filter(Boolean).join(" · "))));
    }
  }, 250));

  const teamResults = $("team-results");
  let team = null;
  $("team-search").addEventListener("input", debounce(async (event) => {
    const query = event.target.value.trim();
    teamResults.replaceChildren();
    if (query.length < 2) return;
    const page = await getJson(`/api/teams/?search=${encodeURIComponent(query)}&page_size=10`);
    if (!page.results.length) teamResults.append(el("li", { class: "muted" }, "No team by that name."));
    for (const found of page.results) {
      const button = el("button", { type: "button", class: "secondary small pick-team", "data-id": String(found.id) }, "Choose");
      button.addEventListener("click", () => chooseTeam(found.id));
      teamResults.append(el("li", {}, button, " ", found.name, " ", el("span", { class: "muted small" }, [found.area, found.kind].filter(Boolean).join(" · "))));
    }
  }, 250));

  async function chooseTeam(teamId) {
    team = await getJson(`/api/teams/${teamId}/`);
    const select = $("season-select");
    select.replaceChildren(el("option", { value: "" }, "every season in the data"));
    for (const season of team.seasons || []) {
      const label = `${season.competition ? season.competition.name + " " : ""}${season.name}`;
      select.append(el("option", { value: String(season.id) }, label));
    }
    if ((team.seasons || []).length === 1) select.value = String(team.seasons[0].id);
    $("squad-box").hidden = false;
    await showSquad();
  }

  async function loadSquad() {
    const season = $("season-select").value;
    const detail = await getJson(`/api/teams/${team.id}/${season ? "?season=" + season : ""}`);
    return detail.squad || [];
  }

  async function showSquad() {
    const squad = await loadSquad();
    $("squad-summary").textContent = `${team.name}: ${squad.length} players appeared.`;
  }

  $("season-select").addEventListener("change", showSquad);
  $("add-squad").addEventListener("click", async () => {
    const squad = await loadSquad();
    let added = 0;
    for (const player of squad) if (addPlayer(player)) added += 1;
    $("squad-summary").textContent = `${team.name}: ${added} players added (${squad.length} in the squad).`;
    const name = $("report-name");
    if (!name.value) {
      const season = $("season-select");
      name.value = `${team.name} ${season.value ? season.options[season.selectedIndex].textContent : ""}`.trim();
    }
  });

  refreshCount();
})();
