// The saga page's flowchart: the type's Graphviz SVG, parsed as XML and stripped of
// scripts, event handlers and external links, then coloured by the saga's live status.
//
// Graphviz names each node by its <title>: start, step_1 … step_n, undo_k (the
// compensation of step k), completed, compensated, compensation_failed, stalled; each
// edge "src->dst". From the status the page knows which nodes the saga visited and which
// edges it took: those get the class "taken" (drawn thick, in the colour of what
// happened), the others "not-taken" (drawn faint and neutral, so that a compensation or
// failure that never happened is never in the failure colour).
"use strict";

(function () {
  const S = window.sagacrew;
  const SVG_NS = "http://www.w3.org/2000/svg";
  const TERMINALS = ["completed", "compensated", "compensation_failed", "stalled"];
  const FORWARD_DONE = new Set(["succeeded", "compensating", "compensated", "dead_lettered"]);
  const UNDO_STATE = {
    none: "not_run",
    not_run: "not_run",
    running: "compensating",
    ran: "compensated",
    failed: "failed",
    dead_lettered: "dead_lettered",
  };

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

  // The chart: {nodes: Map(title -> <g>), edges: [{src, dst, group}]}, empty when the
  // SVG is missing or unreadable (the figure then says why).
  async function loadFlowchart(sagaId, figure) {
    const chart = { nodes: new Map(), edges: [], figure: figure };
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
      figure.appendChild(S.make("p", "muted", message));
      return chart;
    }
    const parsed = new DOMParser().parseFromString(await response.text(), "image/svg+xml");
    const svg = parsed.documentElement;
    if (!svg || svg.namespaceURI !== SVG_NS || parsed.getElementsByTagName("parsererror").length) {
      figure.appendChild(S.make("p", "muted", "the flowchart could not be read"));
      return chart;
    }
    sanitizeSvg(svg);
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    svg.setAttribute("class", "chart");
    svg.setAttribute("role", "img");
    const shown = document.importNode(svg, true);
    figure.appendChild(shown);
    shown.querySelectorAll("g.node").forEach(function (group) {
      const title = group.querySelector("title");
      if (title) chart.nodes.set(title.textContent.trim(), group);
    });
    shown.querySelectorAll("g.edge").forEach(function (group) {
      const title = group.querySelector("title");
      const ends = title ? title.textContent.trim().split("->") : [];
      if (ends.length === 2) chart.edges.push({ src: ends[0], dst: ends[1], group: group });
    });
    return chart;
  }

  function position(node, prefix) {
    return node.startsWith(prefix) ? Number(node.slice(prefix.length)) : 0;
  }

  // The nodes the saga visited, and a test of whether it took an edge.
  function pathOf(status) {
    const steps = status.steps;
    const visited = new Set(["start"]);
    steps.forEach(function (step, index) {
      if (step.status !== "pending" || step.attempts > 0) visited.add("step_" + (index + 1));
      if (UNDO_STATE[step.compensation] !== "not_run") visited.add("undo_" + (index + 1));
    });
    if (TERMINALS.includes(status.state)) visited.add(status.state);
    let failed = steps.findIndex(function (step) { return step.name === status.failed_step; });
    if (failed < 0) failed = steps.findIndex(function (step) { return step.status === "failed"; });

    function kind(src, dst) {
      const from = position(src, "step_");
      if (src === "start") return "forward";
      if (from) {
        if (dst === src) return "retry";
        if (dst === "step_" + (from + 1) || dst === "completed") return "forward";
        return "failure";
      }
      return dst === "compensation_failed" ? "dead_letter" : "compensation";
    }

    function taken(src, dst, edgeKind) {
      if (!visited.has(src) || !visited.has(dst)) return false;
      const step = steps[position(src, "step_") - 1];
      const undone = steps[position(src, "undo_") - 1];
      switch (edgeKind) {
        case "forward":
          return src === "start" || FORWARD_DONE.has(step.status);
        case "retry":
          return step.attempts > 1;
        case "failure":
          return position(src, "step_") - 1 === failed;
        case "dead_letter":
          return ["failed", "dead_lettered"].includes(undone.compensation);
        default:
          return undone.compensation === "ran";
      }
    }
    return { visited: visited, kind: kind, taken: taken };
  }

  function setState(group, state) {
    if (!group) return;
    Array.from(group.classList).forEach(function (name) {
      if (name.startsWith("state-")) group.classList.remove(name);
    });
    if (state) group.classList.add("state-" + state);
  }

  function colourFlowchart(chart, status) {
    const path = pathOf(status);
    status.steps.forEach(function (step, index) {
      const forward = chart.nodes.get("step_" + (index + 1));
      setState(forward, step.status);
      if (forward) forward.classList.toggle("is-current", step.name === status.current_step);
      setState(chart.nodes.get("undo_" + (index + 1)), UNDO_STATE[step.compensation]);
    });
    TERMINALS.forEach(function (name) {
      setState(chart.nodes.get(name), name === status.state ? "reached" : "unreached");
    });
    setState(chart.nodes.get("start"), "reached");
    chart.nodes.forEach(function (group, name) {
      group.classList.toggle("on-path", path.visited.has(name));
    });
    chart.edges.forEach(function (edge) {
      const edgeKind = path.kind(edge.src, edge.dst);
      const taken = path.taken(edge.src, edge.dst, edgeKind);
      edge.group.classList.toggle("taken", taken);
      edge.group.classList.toggle("not-taken", !taken);
      edge.group.classList.add("kind-" + edgeKind);
    });
    if (chart.figure && !chart.figure.classList.contains("live")) {
      // Resolve the first colours now (reading the layout does), so that only later
      // changes are animated.
      void chart.figure.getBoundingClientRect();
      chart.figure.classList.add("live");
    }
  }

  S.loadFlowchart = loadFlowchart;
  S.colourFlowchart = colourFlowchart;
})();
