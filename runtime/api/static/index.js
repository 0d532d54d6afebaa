// The saga list: how many sagas are in each state, then a page of sagas (newest first)
// filtered by state, saga type and failure reason, with their duration. The filters and
// the page are kept in the address (?state=&saga_name=&reason=&offset=&limit=), so a view
// can be bookmarked or shared.
"use strict";

(function () {
  const S = window.sagacrew;
  const PAGE_SIZE = 50;

  function fillSelect(select, values) {
    values.forEach(function (value) {
      const option = S.make("option", null, S.label(value));
      option.value = value;
      select.appendChild(option);
    });
  }

  function ensureOption(select, value) {
    if (value && !Array.from(select.options).some(function (o) { return o.value === value; })) {
      fillSelect(select, [value]);
    }
  }

  function renderCounts(list, counts, chosen, choose) {
    list.textContent = "";
    let total = 0;
    Object.keys(counts).forEach(function (state) { total += counts[state]; });
    const all = S.make("li");
    const allButton = S.make("button", "count" + (chosen ? "" : " chosen"), "all " + total);
    allButton.type = "button";
    allButton.addEventListener("click", function () { choose(""); });
    all.appendChild(allButton);
    list.appendChild(all);
    Object.keys(counts).forEach(function (state) {
      const item = S.make("li");
      const button = S.make("button", "count badge state-" + state);
      button.type = "button";
      button.setAttribute("data-state", state);
      if (state === chosen) button.classList.add("chosen");
      if (!counts[state]) button.classList.add("none");
      button.appendChild(S.make("span", null, S.label(state) + " "));
      button.appendChild(S.make("strong", "n", counts[state]));
      button.addEventListener("click", function () { choose(state === chosen ? "" : state); });
      item.appendChild(button);
      list.appendChild(item);
    });
  }

  function renderRows(body, sagas) {
    body.textContent = "";
    sagas.forEach(function (saga) {
      const row = S.make("tr");
      row.appendChild(S.make("td", null, saga.saga_name));
      const idCell = S.make("td");
      const link = S.make("a", "mono", saga.saga_id);
      link.href = "/sagas/" + encodeURIComponent(saga.saga_id);
      idCell.appendChild(link);
      row.appendChild(idCell);
      const stateCell = S.make("td");
      stateCell.appendChild(S.make("span", "badge state-" + saga.state, S.label(saga.state)));
      row.appendChild(stateCell);
      const why = saga.failure_reason;
      row.appendChild(S.make("td", why ? "reason" : null, why || saga.summary));
      row.appendChild(S.make("td", "mono", S.utc(saga.started_at)));
      const took = saga.duration_ms === null ? "running" : S.duration(saga.duration_ms);
      row.appendChild(S.make("td", "number mono duration", took));
      body.appendChild(row);
    });
    S.byId("empty").hidden = sagas.length > 0;
  }

  async function indexPage() {
    const stateSelect = S.byId("filter-state");
    const sagaSelect = S.byId("filter-saga");
    const reasonInput = S.byId("filter-reason");
    const address = new URLSearchParams(window.location.search);
    const limit = Math.min(Math.max(Number(address.get("limit")) || PAGE_SIZE, 1), 1000);
    let offset = Math.max(Number(address.get("offset")) || 0, 0);
    let nextOffset = null;
    const system = await S.showSystemTitle();
    if (system) {
      fillSelect(stateSelect, system.states);
      fillSelect(sagaSelect, system.sagas.map(function (saga) { return saga.name; }));
    }
    ensureOption(stateSelect, address.get("state"));
    ensureOption(sagaSelect, address.get("saga_name"));
    stateSelect.value = address.get("state") || "";
    sagaSelect.value = address.get("saga_name") || "";
    reasonInput.value = address.get("reason") || "";

    function query() {
      const params = new URLSearchParams();
      if (stateSelect.value) params.set("state", stateSelect.value);
      if (sagaSelect.value) params.set("saga_name", sagaSelect.value);
      const reason = reasonInput.value.trim();
      if (reason) params.set("reason", reason);
      if (offset) params.set("offset", String(offset));
      if (limit !== PAGE_SIZE) params.set("limit", String(limit));
      return params;
    }

    let refresh = null;
    function changed(resetOffset) {
      if (resetOffset) offset = 0;
      const shown = query().toString();
      window.history.replaceState(null, "", shown ? "?" + shown : window.location.pathname);
      if (refresh) refresh();
    }
    function choose(state) {
      ensureOption(stateSelect, state);
      stateSelect.value = state;
      changed(true);
    }
    S.byId("filters").addEventListener("submit", function (event) {
      event.preventDefault();
      changed(true);
    });
    stateSelect.addEventListener("change", function () { changed(true); });
    sagaSelect.addEventListener("change", function () { changed(true); });
    reasonInput.addEventListener("input", function () { changed(true); });
    S.byId("newer").addEventListener("click", function () {
      offset = Math.max(offset - limit, 0);
      changed(false);
    });
    S.byId("older").addEventListener("click", function () {
      if (nextOffset !== null) offset = nextOffset;
      changed(false);
    });

    refresh = S.every(async function () {
      const params = query();
      params.set("limit", String(limit));
      const listing = await S.getJson("/api/sagas?" + params.toString());
      renderCounts(S.byId("counts"), listing.counts, stateSelect.value, choose);
      renderRows(S.byId("saga-rows"), listing.sagas);
      nextOffset = listing.next_offset;
      S.byId("newer").disabled = listing.offset === 0;
      S.byId("older").disabled = nextOffset === null;
      S.byId("page-range").textContent = listing.sagas.length
        ? "sagas " + (listing.offset + 1) + "–" + (listing.offset + listing.sagas.length)
        : "";
      S.showError("");
      S.stamp();
      return true;
    });
  }

  document.addEventListener("DOMContentLoaded", indexPage);
})();
