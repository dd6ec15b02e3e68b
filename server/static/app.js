// citewise chat page. Every piece of corpus or answer text reaches the page through textContent, never as HTML.
import { $, KEY_STORE, errorMessage, headers, needKey, parseEvent } from "./api.js";
import { exportActions, withoutNotice } from "./takeaway.js";
import { currentFilters, describeFilters, initFilters, labelText, loadSourceChoices } from "./filters.js";
import { el, renderMarkdown, withoutSourcesSection } from "./markdown.js";
import { closePanel, initPanel, openPanel, workLine } from "./panel.js";

const ENGINE_STORE = "citewise.engine";
const MAX_HISTORY = 12;

const history = [];
let busy = false;

// ---------- citations, references and the side panel ----------

function citeButton(turn, n) {
  const button = el("button", "cite", "[" + n + "]");
  button.type = "button";
  button.dataset.n = String(n);
  button.setAttribute("aria-label", "Show quotation " + n + " in its source");
  button.disabled = !turn.citations.has(n);
  describeCite(button, turn.citations.get(n));
  button.addEventListener("click", () => {
    const citation = turn.citations.get(n);
    if (citation) openPanel("Quotation [" + n + "]", citation.source, citation.start, citation.end, citation.page, button);
  });
  return button;
}

function describeCite(button, citation) {
  // Who, when and what kind, on every [n]: "Wikipedia contributors (2025, encyclopedia article): Title".
  if (!citation) return;
  const s = citation.source;
  button.title = (s.author || "Unknown author") + " (" + labelText(s) + "): " + (s.title || s.file);
  button.setAttribute("aria-label", "Show quotation " + citation.n + " in its source, " + button.title);
}

function enableCiteButtons(turn) {
  for (const button of turn.body.querySelectorAll("button.cite")) {
    button.disabled = !turn.citations.has(Number(button.dataset.n));
    describeCite(button, turn.citations.get(Number(button.dataset.n)));
  }
}

function referencesSection(answer) {
  // One entry per source, in order of first citation, with a button for each quotation taken from it.
  const section = el("section", "sources");
  section.appendChild(el("h3", null, "Sources cited"));
  const bySource = new Map();
  for (const c of answer.citations) {
    if (!bySource.has(c.source.id)) bySource.set(c.source.id, []);
    bySource.get(c.source.id).push(c);
  }
  const list = el("ol");
  for (const citations of bySource.values()) {
    const source = citations[0].source;
    const item = el("li", "source-ref");
    item.appendChild(workLine(source, null));
    const where = el("div", "where", source.file + " · ");
    for (const c of citations) {
      const number = el("button", "num", "[" + c.n + "]" + (c.page ? " p. " + c.page : ""));
      number.type = "button";
      number.setAttribute("aria-label", "Show quotation " + c.n + " in its source");
      number.addEventListener("click", () => openPanel("Quotation [" + c.n + "]", c.source, c.start, c.end, c.page, number));
      where.appendChild(number);
    }
    item.appendChild(where);
    list.appendChild(item);
  }
  section.appendChild(list);
  return section;
}

function nearestSection(answer) {
  const section = el("section", "nearest");
  section.appendChild(el("h3", null, "Nearest passages"));
  const list = el("ol");
  answer.nearest.forEach((p, i) => {
    const item = el("li", "ref");
    const show = el("button", "num", String(i + 1));
    show.type = "button";
    show.setAttribute("aria-label", "Show this passage in its source");
    show.addEventListener("click", () => openPanel("Nearest passage", p.source, p.start, p.end, p.page, show));
    const text = el("div");
    const snippet = p.text.replace(/\s+/g, " ").trim();
    text.appendChild(el("span", "snippet", snippet.length > 320 ? snippet.slice(0, 320) + "…" : snippet));
    text.appendChild(workLine(p.source, p.page));
    item.append(show, text);
    list.appendChild(item);
  });
  section.appendChild(list);
  return section;
}

// ---------- a turn: question, streamed answer, references ----------

function newTurn(question) {
  $("welcome")?.remove();
  const article = el("article", "turn");
  article.appendChild(el("p", "question", question));
  const box = el("div", "answer streaming");
  const body = el("div", "answer-body");
  box.appendChild(body);
  article.appendChild(box);
  $("conversation").appendChild(article);
  article.scrollIntoView({ block: "start", behavior: "smooth" });
  return { question, article, box, body, text: "", citations: new Map() };
}

function finishTurn(turn, answer) {
  turn.box.classList.remove("streaming");
  turn.citations = new Map(answer.citations.map((c) => [c.n, c]));
  turn.box.classList.toggle("refused", answer.refused);
  if (answer.refused) turn.box.insertBefore(el("span", "refusal-label", "No supported answer"), turn.body);
  if (answer.notice) {
    // Shown once, above the answer, set apart from the quotations.
    turn.box.insertBefore(el("p", "health-notice", answer.notice), turn.body).setAttribute("role", "note");
  }
  const filtered = describeFilters(answer.filters);
  if (filtered) turn.box.insertBefore(el("p", "filtered", "Answered only from sources: " + filtered), turn.body);
  const markdown = withoutNotice(withoutSourcesSection(answer.answer), answer.notice);
  renderMarkdown(turn.body, markdown, (n) => citeButton(turn, n));
  if (answer.refused && answer.excluded_by_filters.length) {
    const again = el("button", "quiet again", "Ask again without the filters");
    again.type = "button";
    again.addEventListener("click", () => submit(turn.question, { unfiltered: true }));
    turn.box.appendChild(again);
  }
  if (answer.citations.length) turn.box.appendChild(referencesSection(answer));
  if (answer.nearest.length && (answer.refused || !answer.citations.length)) turn.box.appendChild(nearestSection(answer));
  turn.box.appendChild(exportActions(answer));
  turn.article.dataset.done = "true";
}

function failTurn(turn, message) {
  turn.box.classList.remove("streaming");
  turn.box.replaceChildren(el("p", "error", message));
  turn.article.dataset.done = "error";
}

async function ask(question, { unfiltered = false } = {}) {
  const turn = newTurn(question);
  const payload = { question, history: history.slice(-MAX_HISTORY), stream: true };
  const engine = $("engine").value;
  if (engine) payload.engine = engine;
  const filters = unfiltered ? null : currentFilters();
  if (filters) payload.filters = filters;
  let response;
  for (;;) {
    if (!index.ready && index.coming) {
      // The corpus is being indexed (`citewise serve --ingest`): hold the question until the first part is live.
      turn.body.replaceChildren(el("p", "waiting", "The corpus is being indexed. This question will be answered "
        + "as soon as its first part is ready, usually within a minute."));
      const problem = await indexReady();
      turn.body.replaceChildren();
      if (problem) {
        failTurn(turn, problem);
        return;
      }
    }
    try {
      response = await fetch("/v1/ask", { method: "POST", headers: headers(true), body: JSON.stringify(payload) });
    } catch (err) {
      failTurn(turn, "Could not reach the server: " + err.message);
      return;
    }
    // 503 means no index is loaded: if that is because one is being built, wait for it and ask again.
    if (response.status !== 503 || index.ready) break;
    await refreshStatus();
    if (!index.coming || index.ready) break;
  }
  if (!response.ok) {
    let message = await errorMessage(response);
    if (response.status === 401) message = needKey(message);
    failTurn(turn, message);
    return;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let answer = null;
  for (;;) {
    let chunk;
    try {
      chunk = await reader.read();
    } catch (err) {
      // The connection broke mid-answer: say so, rather than leave the turn streaming for ever.
      failTurn(turn, "The connection broke while the answer was streaming (" + err.message + "). Please ask again.");
      return;
    }
    const { value, done } = chunk;
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const { event, data } = parseEvent(buffer.slice(0, cut));
      buffer = buffer.slice(cut + 2);
      if (event === "text") {
        turn.text += data.text;
        renderMarkdown(turn.body, turn.text, (n) => citeButton(turn, n));
      } else if (event === "citation") {
        turn.citations.set(data.n, data);
        enableCiteButtons(turn);
      } else if (event === "done") {
        answer = data;
      } else if (event === "error") {
        failTurn(turn, data.message);
        return;
      }
    }
  }
  if (!answer) {
    failTurn(turn, "The answer stream ended early; please ask again.");
    return;
  }
  finishTurn(turn, answer);
  history.push({ role: "user", content: question }, { role: "assistant", content: answer.answer });
}

// ---------- the index's state, from /readyz ----------

// While no index is loaded, or more of it is on its way (`citewise serve --ingest`), /readyz is polled, so the page
// follows the index as it appears and grows without a reload.
const POLL_MS = 1500;
const IDLE_POLL_MS = 5000;
// coming: no index is loaded yet, but one is being built (`citewise serve --ingest`), so questions are held;
// growing: an index is loaded and more of the corpus is on its way.
const index = { ready: false, coming: false, growing: false, ingest: "", waiters: [], generation: "" };

function setNotice(text) {
  const notice = $("index-notice");
  notice.textContent = text;
  notice.hidden = !text;
}

function indexReady() {
  // Resolves with null once an index is loaded, or with the reason it will not be (the ingest failed or stopped).
  if (index.ready || !index.coming) return Promise.resolve(null);
  return new Promise((resolve) => index.waiters.push(resolve));
}

function settleWaiters(problem) {
  const waiters = index.waiters.splice(0);
  for (const resolve of waiters) resolve(problem);
}

async function refreshStatus() {
  let response;
  let body;
  try {
    response = await fetch("/readyz", { headers: headers(false) });
    body = await response.json();
  } catch (_) {
    $("index-status").textContent = "server unreachable";
    return;
  }
  if (response.status === 401) {
    $("index-status").textContent = "API key needed";
    setNotice("This server needs an API key: paste it under Settings.");
    return;
  }
  const ingest = body.ingest || null;
  index.ready = response.ok;
  index.coming = !response.ok && body.indexing === true;
  index.growing = response.ok && body.indexing === true;
  index.ingest = ingest ? ingest.state : "";
  if (response.ok) {
    const generation = body.sources + "/" + body.passages;
    if (generation !== index.generation) {
      // A new index may hold other sources and kinds to filter by.
      index.generation = generation;
      loadSourceChoices();
    }
    $("index-status").textContent = body.sources + " sources · " + body.passages.toLocaleString() + " passages"
      + (index.growing ? " · indexing the rest…" : "");
    setNotice(index.growing ? "Answering from the " + body.sources + " sources indexed so far; the rest of the "
      + "corpus is still being indexed and is added as it is ready." : "");
    settleWaiters(null);
  } else if (index.coming) {
    $("index-status").textContent = "indexing the corpus…";
    setNotice("The corpus is being indexed. citewise will answer as soon as its first part is ready, usually "
      + "within a minute; you can ask already.");
  } else if (index.ingest === "failed" || index.ingest === "stopped") {
    $("index-status").textContent = "indexing " + index.ingest;
    const problem = "Indexing the corpus " + index.ingest + (ingest.message ? " (" + ingest.message + ")" : "")
      + ", so there is nothing to answer from; the server's terminal has the details.";
    setNotice(problem);
    settleWaiters(problem);
  } else {
    $("index-status").textContent = "index not loaded";
    setNotice("No index is loaded yet. Run `citewise ingest`, or start the server with `citewise serve --ingest "
      + "corpus`; this page picks the index up by itself.");
    settleWaiters(null);
  }
}

async function pollStatus() {
  await refreshStatus();
  if (!index.ready || index.growing) {
    setTimeout(pollStatus, index.coming || index.growing ? POLL_MS : IDLE_POLL_MS);
  }
}

async function submit(question, options = {}) {
  // One question at a time; false when one is already being answered.
  if (busy) return false;
  busy = true;
  $("ask-button").disabled = true;
  $("question").value = "";
  try {
    await ask(question, options);
  } finally {
    busy = false;
    $("ask-button").disabled = false;
    $("question").focus();
  }
  return true;
}

function init() {
  const keyInput = $("api-key");
  keyInput.value = localStorage.getItem(KEY_STORE) || "";
  keyInput.addEventListener("change", () => {
    const key = keyInput.value.trim();
    if (key) localStorage.setItem(KEY_STORE, key);
    else localStorage.removeItem(KEY_STORE);
  });
  const engine = $("engine");
  engine.value = localStorage.getItem(ENGINE_STORE) || "";
  engine.addEventListener("change", () => localStorage.setItem(ENGINE_STORE, engine.value));
  initPanel();
  initFilters();
  $("new-conversation").addEventListener("click", () => {
    history.length = 0;
    document.querySelectorAll(".turn").forEach((t) => t.remove());
    closePanel();
    $("question").focus();
  });
  const form = $("ask-form");
  const input = $("question");
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const question = input.value.trim();
    if (!question) return;
    await submit(question);
  });
  pollStatus();
  input.focus();
}

document.addEventListener("DOMContentLoaded", init);
