// The saga page: its state and summary, why it failed, its flowchart with the path taken,
// each step (attempts, duration, last error, next retry, its undo), the dead letters with
// a redrive button (operator token), the locks it holds and its timeline.
"use strict";

(function () {
  const S = window.sagacrew;
  const STEP_STATES = [
    "pending", "running", "waiting", "succeeded", "failed",
    "compensating", "compensated", "dead_lettered",
  ];
  const UNDO_WORDS = {
    not_run: "not run",
    running: "running",
    ran: "done",
    failed: "failed",
    dead_lettered: "parked as a dead letter",
  };

  function clock(iso) {
    return iso ? S.utc(iso).slice(11) : "";
  }

  function fact(parent, text, className) {
    if (text) parent.appendChild(S.make("span", className || "fact", text));
  }

  function renderSteps(list, status) {
    list.textContent = "";
    status.steps.forEach(function (step) {
      const item = S.make("li", "step state-" + step.status);
      const head = S.make("div", "step-head");
      head.appendChild(S.nameNode(step.label || step.name, "step-name"));
      if (step.pivot) head.appendChild(S.make("span", "tag", "pivot"));
      head.appendChild(S.make("span", "step-status", S.label(step.status)));
      item.appendChild(head);
      const facts = S.make("div", "step-facts");
      if (step.attempts > 1) fact(facts, step.attempts + " attempts");
      fact(facts, S.duration(step.duration_ms));
      if (step.next_retry_at) fact(facts, "next retry " + clock(step.next_retry_at), "fact retry");
      if (step.compensation !== "none") {
        const undo = S.make("span", "fact undo undo-" + step.compensation);
        undo.appendChild(S.nameNode("undo " + step.name));
        undo.appendChild(document.createTextNode(": " + UNDO_WORDS[step.compensation]));
        if (step.compensation_attempts > 1) {
          undo.appendChild(document.createTextNode(" (" + step.compensation_attempts + " attempts)"));
        }
        if (step.compensation !== "not_run") facts.appendChild(undo);
      }
      if (facts.childNodes.length) item.appendChild(facts);
      if (step.last_error) item.appendChild(S.make("p", "step-error", step.last_error));
      list.appendChild(item);
    });
  }

  function renderLegend(list) {
    list.textContent = "";
    STEP_STATES.concat(["not_run"]).forEach(function (state) {
      const item = S.make("li", "state-" + state);
      item.appendChild(S.make("span", "swatch"));
      item.appendChild(S.make("span", null, state === "not_run" ? "undo not run" : S.label(state)));
      list.appendChild(item);
    });
    const taken = S.make("li", "path");
    taken.appendChild(S.make("span", "line taken"));
    taken.appendChild(S.make("span", null, "path taken"));
    list.appendChild(taken);
    const other = S.make("li", "path");
    other.appendChild(S.make("span", "line not-taken"));
    other.appendChild(S.make("span", null, "not taken"));
    list.appendChild(other);
  }

  function renderTimeline(list, status) {
    const start = Date.parse(status.started_at);
    list.textContent = "";
    status.timeline.forEach(function (entry) {
      const item = S.make("li", "phase-" + entry.phase + " status-" + entry.status);
      const when = S.make("time", "mono", clock(entry.at));
      when.setAttribute("datetime", entry.at);
      item.appendChild(when);
      const since = Date.parse(entry.at) - start;
      item.appendChild(S.make("span", "since mono", since > 0 ? "+" + S.duration(since) : ""));
      item.appendChild(S.make("span", "what", entry.text));
      list.appendChild(item);
    });
  }

  // Dead letter ids and the step each parks, read from the timeline's "parked" entries.
  function parkedSteps(status) {
    const steps = new Map();
    status.timeline.forEach(function (entry) {
      const found = entry.status === "dead_lettered" ? /#(\d+)\b/.exec(entry.text) : null;
      if (found) steps.set(Number(found[1]), entry.step);
    });
    return steps;
  }

  const redriving = new Set();

  function renderHeld(status, redrive) {
    const section = S.byId("held");
    const list = S.byId("dead-letters");
    const steps = parkedSteps(status);
    list.textContent = "";
    status.dead_letters.forEach(function (id) {
      const item = S.make("li", "dead-letter");
      const step = steps.get(id);
      item.appendChild(S.make("span", null, "dead letter #" + id + ": "));
      if (step) item.appendChild(S.nameNode("undo " + step, "mono"));
      item.appendChild(S.make("span", null, " parked after its retries"));
      const button = S.make("button", "redrive", "redrive");
      button.type = "button";
      button.setAttribute("data-dead-letter", String(id));
      button.disabled = redriving.has(id);
      button.addEventListener("click", function () { redrive(id); });
      item.appendChild(button);
      list.appendChild(item);
    });
    const locks = status.locks.map(function (lock) {
      return lock.aggregate + " (taken by " + lock.step_name + ")";
    });
    S.byId("locks").textContent = locks.length ? "semantic locks held: " + locks.join(", ") : "";
    section.hidden = !status.dead_letters.length && !locks.length;
  }

  function renderStatus(status, chart, redrive) {
    document.title = status.saga_name + ": " + status.summary + " · sagacrew";
    S.byId("saga-name").textContent = status.saga_name;
    const badge = S.byId("state");
    badge.textContent = S.label(status.state);
    badge.className = "badge state-" + status.state;
    S.byId("summary").textContent = status.summary;
    S.byId("current-step").textContent = status.current_step
      ? "current step: " + status.current_step
      : "";
    const times = ["started " + S.utc(status.started_at) + " UTC"];
    if (status.ended_at) times.push("ended " + S.utc(status.ended_at));
    if (status.duration_ms !== null) times.push("took " + S.duration(status.duration_ms));
    S.byId("times").textContent = times.join(" · ");
    S.byId("failure").hidden = !status.failure_reason;
    S.byId("failure-reason").textContent = status.failure_reason || "";
    const reason = status.failure_reason || "";
    const named = !status.failed_step || reason.startsWith(status.failed_step + " ");
    S.byId("failed-step").textContent = named ? "" : "at " + status.failed_step + ":";
    renderHeld(status, redrive);
    renderSteps(S.byId("steps"), status);
    renderTimeline(S.byId("timeline"), status);
    S.colourFlowchart(chart, status);
  }

  async function sagaPage() {
    const match = window.location.pathname.match(/^\/sagas\/([^/]+)\/?$/);
    if (!match) {
      S.showError("no saga id in the address; open /sagas/<saga id>");
      return;
    }
    const sagaId = decodeURIComponent(match[1]);
    S.byId("saga-id").textContent = sagaId;
    renderLegend(S.byId("legend"));
    S.showSystemTitle();
    let chart = { nodes: new Map(), edges: [] };
    try {
      chart = await S.loadFlowchart(sagaId, S.byId("flowchart"));
    } catch (error) {
      S.byId("flowchart").textContent = "";
      S.byId("flowchart").appendChild(S.make("p", "muted", "the flowchart could not be loaded"));
    }
    const statusUrl = "/api/sagas/" + encodeURIComponent(sagaId) + "/status";
    let refresh = null;
    async function redrive(id) {
      if (redriving.has(id)) return;
      redriving.add(id);
      S.notify("Redriving dead letter #" + id + "…", false);
      try {
        const url = "/api/dead-letters/" + encodeURIComponent(String(id)) + "/redrive";
        const result = await S.operatorPost(url, "redrive dead letter #" + id);
        if (result !== null) {
          S.notify("Dead letter #" + id + " redriven: saga " + S.label(result.state) + ".", false);
        }
      } catch (error) {
        S.notify("Redrive of dead letter #" + id + " failed: " + error.message, true);
      }
      redriving.delete(id);
      if (refresh) refresh();
    }
    refresh = S.every(async function () {
      try {
        renderStatus(await S.getJson(statusUrl), chart, redrive);
        S.showError("");
        S.stamp();
        return true;
      } catch (error) {
        if (error instanceof S.RequestFailed && error.status === 404) {
          S.byId("state").textContent = "unknown";
          S.showError("No saga with this id. Check the address.");
          return false;
        }
        throw error;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", sagaPage);
})();
