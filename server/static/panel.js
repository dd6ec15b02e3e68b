// The side panel: a quotation or passage shown in its source, highlighted, with author, year, title and page.
import { $, errorMessage, headers, needKey } from "./api.js";
import { el } from "./markdown.js";

export function yearText(source) {
  return source.year === null || source.year === undefined || source.year === "" ? "n.d." : String(source.year);
}

export function workLine(source, page) {
  const line = el("span", "work");
  line.appendChild(document.createTextNode((source.author || "Unknown author") + " (" + yearText(source) + "). "));
  line.appendChild(el("cite", null, source.title || source.file));
  if (page) line.appendChild(document.createTextNode(", p. " + page));
  line.appendChild(document.createTextNode("."));
  return line;
}

function readable(text) {
  // Hard-wrapped books: single line breaks become spaces, paragraph breaks stay (the panel uses pre-line).
  return text.replace(/\r/g, "").replace(/[ \t]*\n[ \t]*\n\s*/g, "\n\n").replace(/([^\n])\n(?!\n)/g, "$1 ");
}

export async function openPanel(kicker, source, start, end, page, trigger) {
  document.querySelectorAll(".cite.active").forEach((b) => b.classList.remove("active"));
  if (trigger && trigger.classList.contains("cite")) trigger.classList.add("active");
  const panel = $("panel");
  panel.hidden = false;
  $("panel-kicker").textContent = kicker;
  $("panel-title").textContent = source.title || source.file;
  const meta = [(source.author || "Unknown author") + " (" + yearText(source) + ")"];
  if (page) meta.push("p. " + page);
  meta.push(source.file);
  $("panel-meta").textContent = meta.join(" · ");
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
  const mark = el("mark", null, readable(span.text));
  passage.replaceChildren(
    el("span", "gap", span.context_start > 0 ? "… " : ""),
    document.createTextNode(readable(span.before)),
    mark,
    document.createTextNode(readable(span.after)),
    el("span", "gap", span.context_end < span.source.chars ? " …" : ""),
  );
  const tall = mark.getBoundingClientRect().height > $("panel").clientHeight / 2;
  mark.scrollIntoView({ block: tall ? "start" : "center" });
}
