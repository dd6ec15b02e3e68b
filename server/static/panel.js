// The side panel: a quotation or passage shown in its source, highlighted, with author, year, kind, title and page.
// Markdown and HTML sources are shown with their headings, paragraphs and lists, built as DOM nodes from text.
import { $, errorMessage, headers, needKey } from "./api.js";
import { labelText } from "./filters.js";
import { el } from "./markdown.js";

let opener = null; // the [n] (or other button) that opened the panel: focus goes back to it on close

export function yearText(source) {
  return source.year === null || source.year === undefined || source.year === "" ? "n.d." : String(source.year);
}

export function workLine(source, page) {
  const line = el("span", "work");
  line.appendChild(document.createTextNode((source.author || "Unknown author") + " (" + labelText(source) + "). "));
  line.appendChild(el("cite", null, source.title || source.file));
  if (page) line.appendChild(document.createTextNode(", p. " + page));
  line.appendChild(document.createTextNode("."));
  return line;
}

function readable(text) {
  // Hard-wrapped books: single line breaks become spaces, paragraph breaks stay (the panel uses pre-line).
  return text.replace(/\r/g, "").replace(/[ \t]*\n[ \t]*\n\s*/g, "\n\n").replace(/([^\n])\n(?!\n)/g, "$1 ");
}

// ---------- structure: blocks of the context window, each a list of [start, end) ranges of the window ----------

const MD_HEADING = /^=?(#{1,6})[ \t]+(.*?)[ \t]*#*=?[ \t]*$/;
const MD_ITEM = /^([ \t]*)([-*+]|\d{1,3}[.)])[ \t]+/;
// Lines this long are paragraphs of their own (an extract with one paragraph a line), not hard-wrapped prose.
const LONG_LINE = 100;

function linesOf(text) {
  const lines = [];
  let at = 0;
  for (const line of text.split("\n")) {
    lines.push({ start: at, end: at + line.length, text: line });
    at += line.length + 1;
  }
  return lines;
}

function markdownBlocks(text) {
  const blocks = [];
  let para = [];
  const flush = () => {
    if (!para.length) return;
    if (para.some((l) => l.text.length > LONG_LINE)) for (const l of para) blocks.push({ tag: "p", ranges: [trimmed(l)] });
    else blocks.push({ tag: "p", ranges: para.map(trimmed) });
    para = [];
  };
  for (const line of linesOf(text)) {
    const heading = MD_HEADING.exec(line.text);
    const item = MD_ITEM.exec(line.text);
    if (!line.text.trim()) {
      flush();
    } else if (heading && heading[2]) {
      flush();
      const from = line.start + line.text.indexOf(heading[2], heading[1].length);
      blocks.push({ tag: "h" + Math.min(6, heading[1].length + 2), ranges: [[from, from + heading[2].length]] });
    } else if (item) {
      flush();
      const last = blocks[blocks.length - 1];
      const ordered = /\d/.test(item[2]);
      const range = [line.start + item[0].length, line.end];
      if (last && last.tag === "list" && last.ordered === ordered) last.items.push([range]);
      else blocks.push({ tag: "list", ordered, items: [[range]] });
    } else {
      para.push(line);
    }
  }
  flush();
  return blocks;
}

function trimmed(line) {
  const lead = line.text.length - line.text.trimStart().length;
  return [line.start + lead, line.start + line.text.trimEnd().length];
}

function htmlBlocks(text, headingStarts) {
  // The HTML reader joins its blocks with blank lines and keeps <br> as single line breaks.
  const blocks = [];
  let at = 0;
  for (const part of text.split(/\n[ \t]*\n/)) {
    const start = text.indexOf(part, at);
    at = start + part.length;
    if (!part.trim()) continue;
    const lines = linesOf(part).filter((l) => l.text.trim()).map((l) => trimmed({ ...l, start: l.start + start }));
    blocks.push({ tag: headingStarts.has(start) ? "h4" : "p", ranges: lines, breaks: true });
  }
  return blocks;
}

function appendRange(parent, text, [from, to], quote, marks) {
  // The range's text, with the part inside the quotation in a <mark>.
  const cuts = [from, Math.max(from, Math.min(to, quote[0])), Math.max(from, Math.min(to, quote[1])), to];
  for (let i = 0; i < 3; i += 1) {
    if (cuts[i + 1] <= cuts[i]) continue;
    const piece = text.slice(cuts[i], cuts[i + 1]);
    if (i === 1) {
      const mark = el("mark", null, piece);
      marks.push(mark);
      parent.appendChild(mark);
    } else {
      parent.appendChild(document.createTextNode(piece));
    }
  }
}

function fillBlock(node, text, ranges, quote, marks, breaks) {
  ranges.forEach((range, i) => {
    if (i > 0) node.appendChild(breaks ? el("br") : document.createTextNode(" "));
    appendRange(node, text, range, quote, marks);
  });
}

function structured(span) {
  // The window before + text + after as blocks; offsets below are relative to the window's start.
  const text = span.before + span.text + span.after;
  const quote = [span.before.length, span.before.length + span.text.length];
  const headingStarts = new Set((span.headings || []).map((h) => h.start - span.context_start));
  const blocks = span.format === "markdown" ? markdownBlocks(text) : htmlBlocks(text, headingStarts);
  const root = el("div", "structured");
  const marks = [];
  for (const block of blocks) {
    if (block.tag === "list") {
      const list = el(block.ordered ? "ol" : "ul");
      for (const ranges of block.items) {
        const item = el("li");
        fillBlock(item, text, ranges, quote, marks, false);
        list.appendChild(item);
      }
      root.appendChild(list);
    } else {
      const node = el(block.tag);
      fillBlock(node, text, block.ranges, quote, marks, block.breaks);
      root.appendChild(node);
    }
  }
  if (span.context_start > 0) root.prepend(el("p", "gap", "…"));
  if (span.context_end < span.source.chars) root.appendChild(el("p", "gap", "…"));
  return { root, marks };
}

function flowing(span) {
  const mark = el("mark", null, readable(span.text));
  const root = el("div", "flowing");
  root.append(
    el("span", "gap", span.context_start > 0 ? "… " : ""),
    document.createTextNode(readable(span.before)),
    mark,
    document.createTextNode(readable(span.after)),
    el("span", "gap", span.context_end < span.source.chars ? " …" : ""),
  );
  return { root, marks: [mark] };
}

// ---------- opening and closing ----------

export function closePanel() {
  const panel = $("panel");
  if (panel.hidden) return;
  panel.hidden = true;
  document.querySelectorAll(".cite.active").forEach((b) => b.classList.remove("active"));
  if (opener && opener.isConnected) opener.focus();
  opener = null;
}

export function initPanel() {
  $("panel-close").addEventListener("click", closePanel);
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape" || $("panel").hidden) return;
    // Escape in the question box (or a setting) belongs to that field; anywhere else it closes the panel.
    const active = document.activeElement;
    if (active && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName) && !$("panel").contains(active)) return;
    event.preventDefault();
    closePanel();
  });
}

export async function openPanel(kicker, source, start, end, page, trigger) {
  document.querySelectorAll(".cite.active").forEach((b) => b.classList.remove("active"));
  if (trigger && trigger.classList.contains("cite")) trigger.classList.add("active");
  opener = trigger || null;
  const panel = $("panel");
  panel.hidden = false;
  $("panel-kicker").textContent = kicker;
  $("panel-title").textContent = source.title || source.file;
  const meta = [(source.author || "Unknown author") + " (" + labelText(source) + ")"];
  if (page) meta.push("p. " + page);
  meta.push(source.file);
  $("panel-meta").textContent = meta.join(" · ");
  $("panel-title").focus();
  const passage = $("panel-passage");
  passage.replaceChildren(el("span", "gap", "Loading the passage…"));
  const url = "/v1/sources/" + encodeURIComponent(source.id) + "/text?start=" + start + "&end=" + end + "&context=700";
  const response = await fetch(url, { headers: headers(false) });
  if (!response.ok) {
    let message = await errorMessage(response);
    if (response.status === 401) message = needKey(message);
    passage.replaceChildren(el("p", "error", message));
    return;
  }
  const span = await response.json();
  if (span.page && !page) $("panel-meta").textContent = meta.concat(["p. " + span.page]).join(" · ");
  const shown = span.format === "markdown" || span.format === "html" ? structured(span) : flowing(span);
  passage.classList.toggle("is-structured", shown.root.classList.contains("structured"));
  passage.replaceChildren(shown.root);
  const first = shown.marks[0];
  if (!first) return;
  const tall = shown.marks[shown.marks.length - 1].getBoundingClientRect().bottom - first.getBoundingClientRect().top
    > $("panel").clientHeight / 2;
  first.scrollIntoView({ block: tall ? "start" : "center" });
}
