// An answer to take away: copied as Markdown with its bibliography, or downloaded as Markdown, BibTeX or RIS.
// The files are written by the server (POST /v1/export), from the sources' metadata in the index.
import { errorMessage, headers } from "./api.js";
import { el } from "./markdown.js";

export function withoutNotice(markdown, notice) {
  // The page shows the health notice once, above the answer, so its Markdown block is left out of the body.
  if (!notice) return markdown;
  return markdown.split("\n").filter((line) => line.replace(/^\s*>\s?/, "").trim() !== notice).join("\n");
}

async function exported(answer, format) {
  const response = await fetch("/v1/export", {
    method: "POST", headers: headers(true), body: JSON.stringify({ answer, format }),
  });
  if (!response.ok) throw new Error(await errorMessage(response));
  const disposition = response.headers.get("content-disposition") || "";
  const match = /filename="([^"]+)"/.exec(disposition);
  return { text: await response.text(), name: match ? match[1] : "citewise." + format,
    type: response.headers.get("content-type") || "text/plain" };
}

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = el("textarea");
  area.value = text;
  document.body.appendChild(area);
  area.select();
  document.execCommand("copy");
  area.remove();
}

function save(file) {
  const url = URL.createObjectURL(new Blob([file.text], { type: file.type }));
  const link = el("a");
  link.href = url;
  link.download = file.name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function actionButton(label, className, run) {
  const button = el("button", "quiet " + className, label);
  button.type = "button";
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      button.textContent = await run();
    } catch (err) {
      button.textContent = label + " failed";
      button.title = err.message;
    }
    button.disabled = false;
    setTimeout(() => { button.textContent = label; }, 1600);
  });
  return button;
}

export function exportActions(answer) {
  const actions = el("div", "actions");
  actions.appendChild(actionButton("Copy as Markdown", "copy", async () => {
    await copyText((await exported(answer, "md")).text);
    return "Copied";
  }));
  actions.appendChild(el("span", "actions-label", "Download:"));
  const formats = [["md", "Markdown"]];
  if (answer.citations.length) formats.push(["bibtex", "BibTeX"], ["ris", "RIS"]);
  for (const [format, label] of formats) {
    const button = actionButton(label, "download download-" + format, async () => {
      save(await exported(answer, format));
      return label;
    });
    button.setAttribute("aria-label", "Download " + (format === "md" ? "the answer as Markdown"
      : "the cited sources as " + label));
    actions.appendChild(button);
  }
  return actions;
}
