// sagacrew status page: vanilla JS, no dependencies. Everything from the server is put in
// the page with textContent / setAttribute (never innerHTML); the flowchart SVG is parsed
// as XML and stripped of scripts, event handlers and external links before it is shown.
// The page refreshes by fetching the status JSON every second (a UI refresh, not a saga
// polling loop); it pauses while the tab is hidden.
"use strict";

(function () {
  const REFRESH_MS = 1000;
  const STEP_STATES = [
    "pending", "running", "waiting", "succeeded", "failed",
    "compensating", "compensated", "dead_lettered",
  ];
  const UNDO_STATES = new Set(["compensating", "compensated", "dead_lettered"]);
  const TERMINAL_NODES = new Set(["completed", "compensated", "compensation_failed", "stalled"]);
  const SVG_NS = "http://www.w3.org/2000/svg";

  function byId(id) {
    return document.getElementById(id);
  }

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function label(state) {
    return String(state).replace(/_/g, " ");
  }

  class RequestFailed extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function getJson(url) {
    let response;
    try {
      response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
    } catch (error) {
      throw new RequestFailed(0, "cannot reach the server; retrying");
    }
    let body = null;
    try {
      body = await response.json();
    } catch (error) {
      body = null;
    }
    if (!response.ok) {
      const message = body && typeof body.error === "string" ? body.error : response.statusText;
      throw new RequestFailed(response.status, message);
    }
    return body;
  }

  function showError(message) {
    const banner = byId("error");
    if (!banner) return;
    banner.textContent = message || "";
    banner.hidden = !message;
  }

  function stamp() {
    const updated = byId("updated");
    if (updated) updated.textContent = new Date().toLocaleTimeString();
  }

  // Refresh loop: one request at a time, every REFRESH_MS, paused while hidden.
  function every(task) {
    let timer = null;
    let stopped = false;
    async function tick() {
      timer = null;
      if (stopped) return;
      if (!document.hidden) {
        try {
          const keepGoing = await task();
          if (keepGoing === false) {
            stopped = true;
            return;
          }
        } catch (error) {
          showError(error && error.message ? error.message : String(error));
        }
      }
      timer = window.setTimeout(tick, REFRESH_MS);
    }
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && timer === null && !stopped) tick();
    });
    tick();
  }

  async function showSystemTitle() {
    try {
      const system = await getJson("/api/system");
      const title = byId("system-title");
      if (title) title.textContent = system.title;
      return system;
    } catch (error) {
      return null;
    }
  }

  // --- the flowchart -------------------------------------------------------------------

  function sanitizeSvg(root) {
    const banned = root.querySelectorAll("script, foreignObject, iframe, object, embed");
    banned.forEach(function (node) { node.remove(); });
    const all = [root].concat(Array.from(root.querySelectorAll("*")));
    all.forEach(function (node) {
      Array.from(node.attributes).forEach(function (attribute) {
        const name = attribute.name.toLowerCase();
        const value = attribute.value.trim().toLowerCase();
        const isLink = name === "href" || name === "xlink:href" || name === "src";
        if (name.startsWith("on") || (isLink && !value.startsWith("#"))) {
          node.removeAttribute(attribute.name);
        }
      });
    });
  }

  async function loadFlowchart(sagaId, figure) {
    const url = "/api/sagas/" + encodeURIComponent(sagaId) + "/flowchart.svg";
    const response = await fetch(url, { cache: "no-store" });
    figure.textContent = "";
    if (!response.ok) {
      let message = "no flowchart for this saga";
      try {
        const body = await response.json();
        if (body && typeof body.error === "string") message = body.error;
      } catch (error) {
        // keep the default message
      }
      figure.appendChild(make("p", "muted", message));
      return new Map();
    }
    const text = await response.text();
    const parsed = new DOMParser().parseFromString(text, "image/svg+xml");
    const svg = parsed.documentElement;
    if (!svg || svg.namespaceURI !== SVG_NS || parsed.getElementsByTagName("parsererror").length) {
      figure.appendChild(make("p", "muted", "the flowchart could not be read"));
      return new Map();
    }
    sanitizeSvg(svg);
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    svg.setAttribute("class", "chart");
    svg.setAttribute("role", "img");
    const shown = document.importNode(svg, true);
    figure.appendChild(shown);
    const nodes = new Map();
    shown.querySelectorAll("g.node").forEach(function (group) {
      const title = group.querySelector("title");
      if (title) nodes.set(title.textContent.trim(), group);
    });
    return nodes;
  }

  function setState(group, state) {
    if (!group) return;
    Array.from(group.classList).forEach(function (name) {
      if (name.startsWith("state-")) group.classList.remove(name);
    });
    if (state) group.classList.add("state-" + state);
  }

  function colourNodes(nodes, status) {
    status.steps.forEach(function (step, index) {
      const forward = nodes.get("step_" + (index + 1));
      const undo = nodes.get("undo_" + (index + 1));
      setState(forward, step.status);
      setState(undo, UNDO_STATES.has(step.status) ? step.status : null);
      if (forward) forward.classList.toggle("is-current", step.name === status.current_step);
    });
    TERMINAL_NODES.forEach(function (name) {
      setState(nodes.get(name), name === status.state ? "reached" : "unreached");
    });
    setState(nodes.get("start"), "reached");
  }

  // --- one saga --------------------------------------------------------------------------

  function renderSteps(list, status) {
    list.textContent = "";
    status.steps.forEach(function (step) {
      const item = make("li", "step state-" + step.status);
      item.appendChild(make("span", "step-name", step.name));
      if (step.pivot) item.appendChild(make("span", "tag", "pivot"));
      item.appendChild(make("span", "step-status", label(step.status)));
      list.appendChild(item);
    });
  }

  function renderLegend(list) {
    list.textContent = "";
    STEP_STATES.forEach(function (state) {
      const item = make("li", "state-" + state);
      item.appendChild(make("span", "swatch"));
      item.appendChild(make("span", null, label(state)));
      list.appendChild(item);
    });
  }

  function renderStatus(status, nodes) {
    document.title = status.saga_name + ": " + status.summary + " · sagacrew";
    byId("saga-name").textContent = status.saga_name;
    const badge = byId("state");
    badge.textContent = label(status.state);
    badge.className = "badge state-" + status.state;
    byId("summary").textContent = status.summary;
    byId("current-step").textContent = status.current_step
      ? "current step: " + status.current_step
      : "";
    renderSteps(byId("steps"), status);
    colourNodes(nodes, status);
  }

  async function sagaPage() {
    const match = window.location.pathname.match(/^\/sagas\/([^/]+)\/?$/);
    if (!match) {
      showError("no saga id in the address; open /sagas/<saga id>");
      return;
    }
    const sagaId = decodeURIComponent(match[1]);
    byId("saga-id").textContent = sagaId;
    renderLegend(byId("legend"));
    showSystemTitle();
    let nodes = new Map();
    try {
      nodes = await loadFlowchart(sagaId, byId("flowchart"));
    } catch (error) {
      byId("flowchart").textContent = "";
      byId("flowchart").appendChild(make("p", "muted", "the flowchart could not be loaded"));
    }
    const statusUrl = "/api/sagas/" + encodeURIComponent(sagaId) + "/status";
    every(async function () {
      try {
        const status = await getJson(statusUrl);
        renderStatus(status, nodes);
        showError("");
        stamp();
        return true;
      } catch (error) {
        if (error instanceof RequestFailed && error.status === 404) {
          byId("state").textContent = "unknown";
          showError("No saga with this id. Check the address.");
          return false;
        }
        throw error;
      }
    });
  }

  // --- recent sagas --------------------------------------------------------------------

  function fillSelect(select, values) {
    values.forEach(function (value) {
      const option = make("option", null, label(value));
      option.value = value;
      select.appendChild(option);
    });
  }

  function renderRows(body, sagas) {
    body.textContent = "";
    sagas.forEach(function (saga) {
      const row = make("tr");
      row.appendChild(make("td", null, saga.saga_name));
      const idCell = make("td");
      const link = make("a", "mono", saga.saga_id);
      link.href = "/sagas/" + encodeURIComponent(saga.saga_id);
      idCell.appendChild(link);
      row.appendChild(idCell);
      const stateCell = make("td");
      stateCell.appendChild(make("span", "badge state-" + saga.state, label(saga.state)));
      row.appendChild(stateCell);
      row.appendChild(make("td", null, saga.summary));
      row.appendChild(make("td", "mono", saga.started_at.replace("T", " ").replace("Z", "")));
      body.appendChild(row);
    });
    byId("empty").hidden = sagas.length > 0;
  }

  async function indexPage() {
    const stateSelect = byId("filter-state");
    const sagaSelect = byId("filter-saga");
    const system = await showSystemTitle();
    if (system) {
      fillSelect(stateSelect, system.states);
      fillSelect(sagaSelect, system.sagas.map(function (saga) { return saga.name; }));
    }
    byId("filters").addEventListener("submit", function (event) { event.preventDefault(); });
    every(async function () {
      const query = new URLSearchParams({ limit: "50" });
      if (stateSelect.value) query.set("state", stateSelect.value);
      if (sagaSelect.value) query.set("saga_name", sagaSelect.value);
      const listing = await getJson("/api/sagas?" + query.toString());
      renderRows(byId("saga-rows"), listing.sagas);
      showError("");
      stamp();
      return true;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const page = document.body.getAttribute("data-page");
    if (page === "saga") sagaPage();
    else if (page === "index") indexPage();
  });
})();
