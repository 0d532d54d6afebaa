// sagacrew status pages, shared part: vanilla JS, no dependencies. Everything from the
// server is put in the page with textContent / setAttribute (never innerHTML). Each page
// refreshes by fetching JSON every second (a UI refresh, not a saga polling loop), paused
// while the tab is hidden. The operator token is asked for in the header and kept in
// sessionStorage only (this tab, until it closes or "forget" is pressed); it is sent as a
// bearer header with operator actions and nowhere else.
"use strict";

(function () {
  const REFRESH_MS = 1000;
  const TOKEN_KEY = "sagacrew.operator-token";

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

  // A name such as join_default_community, breakable only after its underscores (never
  // mid-word): text nodes with <wbr> between the parts.
  function nameNode(name, className) {
    const node = make("span", className);
    String(name).split(/(?<=_)/).forEach(function (part, index) {
      if (index > 0) node.appendChild(document.createElement("wbr"));
      node.appendChild(document.createTextNode(part));
    });
    return node;
  }

  // "35 ms", "1.2 s", "3 min 4 s", "2 h 5 min"; "" for null.
  function duration(ms) {
    if (ms === null || ms === undefined) return "";
    if (ms < 1000) return Math.round(ms) + " ms";
    const seconds = ms / 1000;
    if (seconds < 60) return seconds.toFixed(seconds < 10 ? 2 : 1) + " s";
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " min " + Math.round(seconds - minutes * 60) + " s";
    return Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
  }

  // "2024-05-01 12:00:01.250" from the API's ISO 8601 UTC time ("" for null).
  function utc(iso) {
    return iso ? String(iso).replace("T", " ").replace("Z", "") : "";
  }

  class RequestFailed extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function request(url, options) {
    let response;
    try {
      response = await fetch(url, Object.assign({ cache: "no-store" }, options));
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

  function getJson(url) {
    return request(url, { headers: { Accept: "application/json" } });
  }

  function showError(message) {
    const banner = byId("error");
    if (!banner) return;
    banner.textContent = message || "";
    banner.hidden = !message;
  }

  // What an operator action did ("dead letter #3 redriven: saga compensated"), or why not.
  function notify(message, failed) {
    const notice = byId("notice");
    notice.textContent = message;
    notice.className = failed ? "notice error" : "notice";
    notice.hidden = !message;
  }

  function stamp() {
    const updated = byId("updated");
    if (updated) updated.textContent = new Date().toLocaleTimeString();
  }

  // Refresh loop: one request at a time, every REFRESH_MS, paused while hidden. Returns a
  // function that runs the task again now (after an operator action or a filter change).
  function every(task) {
    let timer = null;
    let running = false;
    let again = false;
    let stopped = false;
    async function tick() {
      if (timer !== null) window.clearTimeout(timer);
      timer = null;
      if (stopped) return;
      if (running) {
        again = true;
        return;
      }
      running = true;
      if (!document.hidden) {
        try {
          if ((await task()) === false) stopped = true;
        } catch (error) {
          showError(error && error.message ? error.message : String(error));
        }
      }
      running = false;
      if (stopped) return;
      if (again) {
        again = false;
        tick();
        return;
      }
      timer = window.setTimeout(tick, REFRESH_MS);
    }
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && timer === null && !running && !stopped) tick();
    });
    tick();
    return tick;
  }

  async function showSystemTitle() {
    try {
      const system = await getJson("/api/system");
      byId("system-title").textContent = system.title;
      return system;
    } catch (error) {
      return null;
    }
  }

  // --- the operator ----------------------------------------------------------------------

  function token() {
    try {
      return window.sessionStorage.getItem(TOKEN_KEY);
    } catch (error) {
      return null;
    }
  }

  function showOperator() {
    const present = Boolean(token());
    byId("token-form").hidden = present;
    byId("token-set").hidden = !present;
  }

  function askForToken(why) {
    notify(why, false);
    byId("token-form").hidden = false;
    byId("token").focus();
  }

  // POST an operator endpoint with the token; the answer's JSON, or null when no token
  // is known yet (the header then asks for it). A refused token is forgotten.
  async function operatorPost(url, why) {
    const secret = token();
    if (!secret) {
      askForToken("Enter the operator token to " + why + ".");
      return null;
    }
    try {
      return await request(url, {
        method: "POST",
        headers: { Accept: "application/json", Authorization: "Bearer " + secret },
      });
    } catch (error) {
      if (error instanceof RequestFailed && (error.status === 401 || error.status === 403)) {
        window.sessionStorage.removeItem(TOKEN_KEY);
        showOperator();
        askForToken("The server refused the operator token (" + error.message + ").");
        return null;
      }
      throw error;
    }
  }

  // "new sagas accepted" or "paused", from /healthz; pause/resume with the token.
  async function showIntake() {
    const intake = byId("intake");
    let paused = null;
    try {
      paused = (await getJson("/healthz")).paused;
    } catch (error) {
      paused = null;
    }
    intake.textContent =
      paused === null ? "" : paused ? "new sagas paused" : "new sagas accepted";
    intake.className = paused ? "intake paused" : "intake";
    byId("pause").hidden = paused !== false;
    byId("resume").hidden = paused !== true;
  }

  function setUpOperator() {
    showOperator();
    byId("token-form").addEventListener("submit", function (event) {
      event.preventDefault();
      const input = byId("token");
      if (!input.value) return;
      window.sessionStorage.setItem(TOKEN_KEY, input.value);
      input.value = "";
      showOperator();
      notify("Operator token kept for this tab only.", false);
    });
    byId("forget").addEventListener("click", function () {
      window.sessionStorage.removeItem(TOKEN_KEY);
      showOperator();
      notify("Operator token forgotten.", false);
    });
    [["pause", "pause new sagas"], ["resume", "resume new sagas"]].forEach(function (pair) {
      byId(pair[0]).addEventListener("click", async function () {
        try {
          const state = await operatorPost("/api/admin/" + pair[0], pair[1]);
          if (state === null) return;
          notify(
            (state.paused ? "New sagas paused" : "New sagas accepted again") +
              "; " + state.in_flight + " in flight.",
            false
          );
        } catch (error) {
          notify("Could not " + pair[1] + ": " + error.message, true);
        }
        showIntake();
      });
    });
    every(showIntake);
  }

  window.sagacrew = {
    byId: byId,
    make: make,
    label: label,
    nameNode: nameNode,
    duration: duration,
    utc: utc,
    RequestFailed: RequestFailed,
    getJson: getJson,
    showError: showError,
    notify: notify,
    stamp: stamp,
    every: every,
    showSystemTitle: showSystemTitle,
    operatorPost: operatorPost,
  };

  document.addEventListener("DOMContentLoaded", setUpOperator);
})();
