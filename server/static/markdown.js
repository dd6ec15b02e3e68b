// Minimal, safe Markdown for answers: paragraphs, lists, notes, **bold**, *italic*, `code`, “quotes”, [n] markers.
// Nodes are built with textContent only, so answer or corpus text can never become markup.

const SOURCES_HEADING = /^\s*(#+\s*)?\**\s*Sources cited\s*\**:?\s*$/i;

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}


// A quotation runs from “ to the ” right before its [n] marker, so curly quotes inside the quoted text stay in it.
const INLINE = /(“[^]*?”(?=\s*\[\d+\])|\[\d+\]|\*\*[^*\n]+\*\*|\*[^*\n]+\*|`[^`\n]+`)/;

// The server escapes &, < and > in the text it puts into Markdown, for clients that render HTML; shown as text
// here, they are turned back into the characters they stand for (never parsed, so still never markup).
function unescaped(text) {
  return text.replace(/&(lt|gt|amp);/g, (_, name) => ({ lt: "<", gt: ">", amp: "&" })[name]);
}

function renderInline(parent, markdown, cite) {
  for (const raw of markdown.split(INLINE)) {
    if (!raw) continue;
    const part = raw.startsWith("`") ? raw : unescaped(raw);
    if (part.startsWith("“") && part.endsWith("”")) {
      parent.appendChild(el("span", "quote", part));
    } else if (/^\[\d+\]$/.test(part)) {
      parent.appendChild(cite(Number(part.slice(1, -1))));
    } else if (part.startsWith("**") && part.endsWith("**") && part.length > 4) {
      parent.appendChild(el("strong", null, part.slice(2, -2)));
    } else if (part.startsWith("*") && part.endsWith("*") && part.length > 2) {
      parent.appendChild(el("em", null, part.slice(1, -1)));
    } else if (part.startsWith("`") && part.endsWith("`") && part.length > 2) {
      parent.appendChild(el("code", null, part.slice(1, -1)));
    } else {
      parent.appendChild(document.createTextNode(part));
    }
  }
}

function blocksOf(markdown) {
  // Blank lines separate blocks, except inside a quotation (quotes of hard-wrapped books may span them).
  const blocks = [];
  let current = [];
  let depth = 0;
  for (const line of markdown.replace(/\r/g, "").split("\n")) {
    if (!line.trim() && depth === 0) {
      if (current.length) blocks.push(current);
      current = [];
      continue;
    }
    current.push(line);
    for (const ch of line) {
      if (ch === "“") depth += 1;
      else if (ch === "”") depth = Math.max(0, depth - 1);
    }
  }
  if (current.length) blocks.push(current);
  return blocks;
}

export function renderMarkdown(target, markdown, cite) {
  target.replaceChildren();
  for (const lines of blocksOf(markdown)) {
    const first = lines[0];
    if (lines.every((l) => /^\s*>/.test(l))) {
      const note = el("blockquote");
      renderInline(note, lines.map((l) => l.replace(/^\s*>\s?/, "")).join(" "), cite);
      target.appendChild(note);
    } else if (lines.every((l) => /^\s*([-*]|\d+\.)\s+/.test(l))) {
      const list = el(/^\s*\d+\./.test(first) ? "ol" : "ul");
      for (const l of lines) {
        const item = el("li");
        renderInline(item, l.replace(/^\s*([-*]|\d+\.)\s+/, ""), cite);
        list.appendChild(item);
      }
      target.appendChild(list);
    } else if (lines.length === 1 && /^#{1,6}\s/.test(first)) {
      const heading = el("h3");
      renderInline(heading, first.replace(/^#+\s*/, ""), cite);
      target.appendChild(heading);
    } else {
      const paragraph = el("p");
      renderInline(paragraph, lines.join("\n").replace(/\s*\n\s*/g, " "), cite);
      target.appendChild(paragraph);
    }
  }
}

export function withoutSourcesSection(markdown) {
  // The structured list below replaces the Markdown one, so the references are shown once.
  const lines = markdown.split("\n");
  const at = lines.findIndex((l) => SOURCES_HEADING.test(l));
  return at < 0 ? markdown : lines.slice(0, at).join("\n").trimEnd();
}
