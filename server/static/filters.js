// The reader's filters (published since a year, kinds of source, chosen sources): the controls under Settings,
// the bar above the question box that says which are on, and the request's `filters` object.
import { $, headers } from "./api.js";
import { el } from "./markdown.js";

const STORE = "citewise.filters";
const state = { since: null, kinds: [], sources: [] };
let known = new Map(); // source id -> source, from /v1/sources

export function labelText(source) {
  // "2025, encyclopedia article": the year and kind a reader weighs a citation by.
  const year = source.year === null || source.year === undefined || source.year === "" ? "n.d." : String(source.year);
  return source.kind ? year + ", " + source.kind : year;
}

function save() {
  localStorage.setItem(STORE, JSON.stringify(state));
  showActive();
}

function restore() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORE) || "{}");
    state.since = Number.isInteger(saved.since) ? saved.since : null;
    state.kinds = Array.isArray(saved.kinds) ? saved.kinds.filter((k) => typeof k === "string") : [];
    state.sources = Array.isArray(saved.sources) ? saved.sources.filter((s) => typeof s === "string") : [];
  } catch (_) { /* a damaged entry means no filters */ }
}

export function currentFilters() {
  // The request's `filters`, or null when nothing is filtered.
  const filters = {};
  if (state.since !== null) filters.since = state.since;
  if (state.kinds.length) filters.kinds = state.kinds.slice();
  if (state.sources.length) filters.sources = state.sources.slice();
  return Object.keys(filters).length ? filters : null;
}

export function describeFilters(filters) {
  if (!filters) return "";
  const parts = [];
  if (filters.since !== null && filters.since !== undefined && filters.until !== null && filters.until !== undefined) {
    parts.push("published " + filters.since + "–" + filters.until);
  } else if (filters.since !== null && filters.since !== undefined) parts.push("published in or after " + filters.since);
  else if (filters.until !== null && filters.until !== undefined) parts.push("published in or before " + filters.until);
  if (filters.kinds && filters.kinds.length) parts.push(filters.kinds.join(" or "));
  if (filters.authors && filters.authors.length) parts.push("author: " + filters.authors.join(" or "));
  if (filters.sources && filters.sources.length) {
    const only = filters.sources.map((id) => (known.get(id) || {}).title || id);
    parts.push(only.length === 1 ? "only " + only[0] : "only " + only.length + " chosen sources");
  }
  return parts.join(" · ");
}

function showActive() {
  const bar = $("active-filters");
  const text = describeFilters(currentFilters());
  $("active-filters-text").textContent = text ? "Filters on: " + text : "";
  bar.hidden = !text;
}

export function clearFilters() {
  state.since = null;
  state.kinds = [];
  state.sources = [];
  $("filter-since").value = "";
  for (const box of document.querySelectorAll("#filter-kinds input, #filter-source-list input")) box.checked = false;
  sourceCount();
  save();
}

function sourceCount() {
  $("filter-sources-count").textContent = state.sources.length ? state.sources.length + " chosen" : "all";
}

function checkbox(value, label, checked, onChange) {
  const row = el("label", "check");
  const box = el("input");
  box.type = "checkbox";
  box.value = value;
  box.checked = checked;
  box.addEventListener("change", () => onChange(box.checked));
  row.append(box, el("span", null, label));
  return row;
}

function toggle(list, value, on) {
  const at = list.indexOf(value);
  if (on && at < 0) list.push(value);
  if (!on && at >= 0) list.splice(at, 1);
}

export async function loadSourceChoices() {
  // Called whenever a new index is served: the kinds and sources to choose from are those it holds.
  let sources;
  try {
    const response = await fetch("/v1/sources", { headers: headers(false) });
    if (!response.ok) return;
    sources = await response.json();
  } catch (_) {
    return;
  }
  known = new Map(sources.map((s) => [s.id, s]));
  const kinds = new Map();
  for (const s of sources) if (s.kind) kinds.set(s.kind, (kinds.get(s.kind) || 0) + 1);
  // Choices the index no longer has would make every question fail, so they are dropped.
  state.kinds = state.kinds.filter((k) => kinds.has(k));
  state.sources = state.sources.filter((id) => known.has(id));
  const kindList = $("filter-kinds");
  kindList.replaceChildren();
  for (const [kind, count] of [...kinds.entries()].sort()) {
    kindList.appendChild(checkbox(kind, kind + " (" + count + ")", state.kinds.includes(kind), (on) => {
      toggle(state.kinds, kind, on);
      save();
    }));
  }
  const sourceList = $("filter-source-list");
  sourceList.replaceChildren();
  const ordered = sources.slice().sort((a, b) => (a.author + a.title).localeCompare(b.author + b.title));
  for (const s of ordered) {
    const label = (s.author.split(";")[0] || "Unknown author") + " (" + labelText(s) + "): " + s.title;
    sourceList.appendChild(checkbox(s.id, label, state.sources.includes(s.id), (on) => {
      toggle(state.sources, s.id, on);
      sourceCount();
      save();
    }));
  }
  sourceCount();
  save();
}

export function initFilters() {
  restore();
  const since = $("filter-since");
  since.value = state.since === null ? "" : String(state.since);
  since.addEventListener("input", () => {
    const year = Number.parseInt(since.value, 10);
    state.since = Number.isInteger(year) && since.value.trim() ? year : null;
    save();
  });
  $("filters-clear").addEventListener("click", clearFilters);
  $("active-filters-clear").addEventListener("click", clearFilters);
  sourceCount();
  showActive();
}
