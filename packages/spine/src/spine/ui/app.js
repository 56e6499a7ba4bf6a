// Spine dev UI: chat over AG-UI (POST /ag-ui, server-sent events), sessions, traces and eval
// reports over the REST API. Plain JavaScript, no build step, no third-party code.
"use strict";

const state = { sessionId: null, busy: false, sessions: [], tools: {} };
const $ = (id) => document.getElementById(id);

// A token passed as #token=... is kept for this tab and sent as a bearer token.
(function keepToken() {
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    sessionStorage.setItem("spine-token", decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
})();

function headers(extra) {
  const h = Object.assign({ "content-type": "application/json" }, extra || {});
  const token = sessionStorage.getItem("spine-token");
  if (token) h.authorization = "Bearer " + token;
  return h;
}

async function api(path, options) {
  const response = await fetch(path, Object.assign({ headers: headers() }, options || {}));
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = JSON.stringify((await response.json()).detail); } catch (e) { /* not JSON */ }
    throw new Error(response.status + ": " + detail);
  }
  return response.status === 204 ? null : response.json();
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

function pretty(value) {
  if (typeof value === "string") {
    try { return JSON.stringify(JSON.parse(value), null, 2); } catch (e) { return value; }
  }
  return JSON.stringify(value, null, 2);
}

function scrollDown() { const m = $("messages"); m.scrollTop = m.scrollHeight; }

function newId() {
  return (crypto.randomUUID ? crypto.randomUUID() : String(Date.now() + Math.random())).replace(/-/g, "");
}

// ---- views -------------------------------------------------------------------------------

function show(view) {
  document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t.dataset.view === view));
  document.querySelectorAll(".view").forEach((v) => v.classList.toggle("active", v.id === "view-" + view));
  if (view === "trace") loadTrace();
  if (view === "evals") loadEvals();
}

function setSession(id) {
  if (id !== state.sessionId) state.tools = {};
  state.sessionId = id;
  const bar = $("session-bar");
  bar.replaceChildren();
  if (id) bar.append("session ", el("code", { "data-testid": "session-id", text: id }));
  else bar.append("new session");
  document.querySelectorAll("#sessions li").forEach((li) => li.classList.toggle("current", li.dataset.id === id));
}

// ---- chat rendering ------------------------------------------------------------------------

function addMessage(role, text) {
  const node = el("div", { class: "msg " + role, "data-testid": "msg-" + role, text: text || "" });
  $("messages").append(node);
  scrollDown();
  return node;
}

function toolCard(id, name) {
  const args = el("pre", { class: "args", "data-testid": "tool-args" });
  const result = el("pre", { class: "result", "data-testid": "tool-result", text: "…" });
  const card = el("div", { class: "tool", "data-testid": "tool-call", "data-id": id },
    el("div", {}, el("span", { class: "tag", text: "tool" }), el("span", { class: "name", "data-testid": "tool-name", text: name })),
    el("div", { class: "label", text: "arguments" }), args,
    el("div", { class: "label", text: "result" }), result);
  $("messages").append(card);
  scrollDown();
  const entry = { card, args, result, raw: "" };
  state.tools[id] = entry;
  return entry;
}

function approvalCard(interrupt) {
  const spine = (interrupt.metadata && interrupt.metadata.spine) || {};
  const reason = el("input", { placeholder: "reason (for a rejection)", "data-testid": "reject-reason" });
  const card = el("div", { class: "approval", "data-testid": "approval" },
    el("div", { class: "question", text: interrupt.message || "Approve?" }),
    spine.tool ? el("div", {}, "tool ", el("code", { text: spine.tool })) : null,
    spine.arguments ? el("pre", { text: pretty(spine.arguments) }) : null);
  const decide = (payload) => {
    card.classList.add("decided");
    actions.replaceChildren(el("span", { class: "muted", text: payload.approved ? "approved" : "rejected" }));
    runAgent({ resume: [{ interruptId: interrupt.id, status: "resolved", payload }] });
  };
  const isQuestion = interrupt.reason === "input";
  const actions = el("div", { class: "actions" });
  if (isQuestion) {
    const answer = el("input", { placeholder: "your answer", "data-testid": "answer" });
    actions.append(answer, el("button", { class: "approve", type: "button", "data-testid": "send-answer",
      onclick: () => decide({ answer: answer.value }) }, "Answer"));
  } else {
    actions.append(
      el("button", { class: "approve", type: "button", "data-testid": "approve", onclick: () => decide({ approved: true }) }, "Approve"),
      el("button", { class: "reject", type: "button", "data-testid": "reject",
        onclick: () => decide({ approved: false, reason: reason.value || undefined }) }, "Reject"),
      reason);
  }
  card.append(actions);
  $("messages").append(card);
  scrollDown();
}

// ---- AG-UI ---------------------------------------------------------------------------------

async function* sseEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = frame.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
      if (data) yield JSON.parse(data);
    }
  }
}

async function runAgent(extra) {
  if (state.busy) return;
  const threadId = state.sessionId || newId();
  const body = Object.assign({ threadId, runId: newId(), messages: [], state: {} }, extra);
  state.busy = true;
  $("send").disabled = true;
  const texts = {}; const reasoning = {}; const tools = state.tools;
  try {
    const response = await fetch("/ag-ui", { method: "POST", headers: headers({ accept: "text/event-stream" }), body: JSON.stringify(body) });
    if (!response.ok) {
      let detail = response.statusText;
      try { detail = JSON.stringify((await response.json()).detail); } catch (e) { /* not JSON */ }
      addMessage("error", response.status + ": " + detail);
      return;
    }
    setSession(threadId);
    for await (const event of sseEvents(response)) {
      switch (event.type) {
        case "TEXT_MESSAGE_START": texts[event.messageId] = addMessage("assistant", ""); break;
        case "TEXT_MESSAGE_CONTENT": texts[event.messageId].textContent += event.delta; scrollDown(); break;
        case "REASONING_MESSAGE_START": reasoning[event.messageId] = addMessage("reasoning", ""); break;
        case "REASONING_MESSAGE_CONTENT": reasoning[event.messageId].textContent += event.delta; break;
        case "TOOL_CALL_START": tools[event.toolCallId] = toolCard(event.toolCallId, event.toolCallName); break;
        case "TOOL_CALL_ARGS": {
          const t = tools[event.toolCallId];
          if (t) { t.raw += event.delta; t.args.textContent = pretty(t.raw); }
          break;
        }
        case "TOOL_CALL_RESULT": {
          const t = tools[event.toolCallId] || toolCard(event.toolCallId, "tool");
          t.result.textContent = typeof event.content === "string" ? event.content : pretty(event.content);
          const failed = event.metadata && event.metadata.spine && event.metadata.spine.is_error;
          if (failed) t.card.classList.add("failed");
          break;
        }
        case "RUN_FINISHED": {
          const outcome = event.outcome || { type: "success" };
          if (outcome.type === "interrupt") outcome.interrupts.forEach(approvalCard);
          else if (outcome.type === "cancelled") addMessage("note", "run cancelled");
          else if (event.result && event.result.stopped_reason && event.result.stopped_reason !== "final")
            addMessage("note", "stopped: " + event.result.stopped_reason);
          break;
        }
        case "RUN_ERROR": addMessage("error", (event.code ? event.code + ": " : "") + event.message); break;
        case "CUSTOM": if (event.name === "spine.guard_trip") addMessage("note", "guard tripped: " + event.value.reason); break;
        default: break;
      }
    }
  } catch (err) {
    addMessage("error", String(err));
  } finally {
    state.busy = false;
    $("send").disabled = false;
    loadSessions();
  }
}

function send(event) {
  event.preventDefault();
  const text = $("input").value.trim();
  if (!text || state.busy) return;
  $("input").value = "";
  addMessage("user", text);
  runAgent({ messages: [{ id: newId(), role: "user", content: text }] });
}

// ---- sessions ------------------------------------------------------------------------------

async function loadSessions() {
  try {
    const data = await api("/sessions");
    state.sessions = data.sessions;
  } catch (err) {
    $("sessions").replaceChildren(el("li", { class: "muted", text: String(err) }));
    return;
  }
  const list = $("sessions");
  list.replaceChildren(...state.sessions.map((s) => el("li",
    { "data-id": s.session_id, "data-testid": "session", class: s.session_id === state.sessionId ? "current" : "",
      onclick: () => openSession(s.session_id) },
    el("div", { class: "sid", text: s.session_id }),
    el("div", { class: "meta" }, el("span", { class: "badge " + s.status, text: s.status }),
      " " + s.message_count + " messages · " + new Date(s.updated_at * 1000).toLocaleTimeString()))));
}

async function openSession(id) {
  let session;
  try { session = await api("/sessions/" + encodeURIComponent(id)); } catch (err) { addMessage("error", String(err)); return; }
  setSession(id);
  $("messages").replaceChildren();
  const cards = {};
  for (const m of session.messages) {
    if (m.role === "user") addMessage("user", m.content || "");
    else if (m.role === "assistant") {
      if (m.thinking && m.thinking.text) addMessage("reasoning", m.thinking.text);
      if (m.content) addMessage("assistant", m.content);
      for (const call of m.tool_calls || []) {
        const card = toolCard(call.id, call.name);
        card.args.textContent = pretty(call.arguments);
        cards[call.id] = card;
      }
    } else if (m.role === "tool") {
      const card = cards[m.tool_call_id] || toolCard(m.tool_call_id, m.name || "tool");
      card.result.textContent = m.content || "";
      if (m.is_error) card.card.classList.add("failed");
    }
  }
  if (session.pending) {
    approvalCard({ id: session.pending.id, reason: session.pending.kind, message: session.pending.question,
      metadata: { spine: { tool: session.pending.tool_call.name, arguments: session.pending.tool_call.arguments } } });
  } else if (session.status === "cancelled") {
    const button = el("button", { class: "secondary", type: "button", "data-testid": "resume",
      onclick: () => { button.remove(); runAgent({ resume: [{ interruptId: "", status: "resolved" }] }); } }, "Resume the cancelled run");
    $("messages").append(el("div", { class: "msg note" }, "this run was cancelled · ", button));
  }
  if (document.querySelector('.tab.active').dataset.view === "trace") loadTrace();
}

// ---- trace ---------------------------------------------------------------------------------

function usageText(usage) {
  if (!usage) return "";
  const parts = [];
  if (usage.input_tokens != null) parts.push((usage.input_tokens || 0) + " in");
  if (usage.output_tokens != null) parts.push((usage.output_tokens || 0) + " out");
  if (usage.cost_usd) parts.push("$" + Number(usage.cost_usd).toFixed(4));
  return parts.join(" / ");
}

async function loadTrace() {
  const box = $("trace");
  if (!state.sessionId) { box.replaceChildren(el("p", { class: "muted", text: "Open a session to see its trace." })); return; }
  let session;
  try { session = await api("/sessions/" + encodeURIComponent(state.sessionId)); } catch (err) { box.replaceChildren(el("p", { class: "muted", text: String(err) })); return; }
  const u = session.usage;
  const steps = session.timeline.filter((e) => e.kind === "model").length;
  const calls = session.timeline.filter((e) => e.kind === "tool_call").length;
  const totals = el("div", { class: "totals", "data-testid": "trace-totals" },
    el("div", {}, el("b", { text: String(steps) }), "model calls"),
    el("div", {}, el("b", { text: String(calls) }), "tool calls"),
    el("div", {}, el("b", { text: String(u.input_tokens) }), "input tokens"),
    el("div", {}, el("b", { text: String(u.output_tokens) }), "output tokens"),
    el("div", {}, el("b", { text: "$" + Number(u.cost_usd).toFixed(4) }), "cost"));
  const items = session.timeline.map((e) => {
    const li = el("li", { class: e.kind, "data-testid": "trace-" + e.kind });
    if (e.kind === "turn") li.append(el("span", { class: "kind", text: "turn " + e.turn }), e.text);
    else if (e.kind === "model") {
      li.append(el("span", { class: "kind", text: "step " + e.step }),
        el("span", { class: "figures", text: [e.model, usageText(e.usage), e.seconds != null ? e.seconds.toFixed(2) + "s" : ""].filter(Boolean).join(" · ") }));
      if (e.text) li.append(el("pre", { text: e.text }));
    } else if (e.kind === "tool_call") li.append(el("span", { class: "kind", text: "tool call" }), el("code", { text: e.name }), el("pre", { text: pretty(e.arguments) }));
    else if (e.kind === "tool_result") li.append(el("span", { class: "kind", text: e.is_error ? "tool error" : "tool result" }), el("code", { text: e.name || "" }),
      el("span", { class: "figures", text: e.seconds != null ? " " + e.seconds.toFixed(3) + "s" : "" }), el("pre", { text: e.result }));
    else if (e.kind === "error") li.append(el("span", { class: "kind", text: "error" }), (e.where || "") + ": " + (e.error || ""));
    else if (e.kind === "pause") li.append(el("span", { class: "kind", text: "paused (" + e.type + ")" }), e.question);
    return li;
  });
  box.replaceChildren(el("h2", {}, "Trace of ", el("code", { text: session.session_id }), " ", el("span", { class: "badge " + session.status, text: session.status })),
    totals, el("ol", { class: "timeline" }, ...items));
}

// ---- evals ---------------------------------------------------------------------------------

async function loadEvals() {
  const box = $("evals");
  let data;
  try { data = await api("/evals"); } catch (err) { box.replaceChildren(el("p", { class: "muted", text: String(err) })); return; }
  if (!data.reports.length) {
    box.replaceChildren(el("p", { class: "muted", text: "No eval reports under .spine/ yet: spine eval SPEC DATASET --report .spine/eval.html" }));
    return;
  }
  const rows = data.reports.map((r) => el("tr", { "data-testid": "eval-report" },
    el("td", {}, el("a", { href: "/evals/" + r.name, target: "_blank", rel: "noopener", text: r.name })),
    el("td", { text: r.format }),
    el("td", { text: r.summary ? Object.entries(r.summary).map(([k, v]) => k + " " + v).join(" · ") : "" }),
    el("td", { text: new Date(r.modified * 1000).toLocaleString() })));
  box.replaceChildren(el("h2", { text: "Eval reports" }),
    el("table", {}, el("thead", {}, el("tr", {}, el("th", { text: "report" }), el("th", { text: "format" }), el("th", { text: "summary" }), el("th", { text: "written" }))), el("tbody", {}, ...rows)));
}

// ---- start ---------------------------------------------------------------------------------

document.querySelectorAll(".tab").forEach((t) => t.addEventListener("click", () => show(t.dataset.view)));
$("composer").addEventListener("submit", send);
$("input").addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) send(e); });
$("new-chat").addEventListener("click", () => { setSession(null); $("messages").replaceChildren(); show("chat"); });
setSession(null);
api("/healthz").then((h) => { $("agent-name").textContent = h.agent; }).catch(() => {});
loadSessions();
