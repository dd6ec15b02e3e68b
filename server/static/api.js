// Talking to the citewise API: the optional bearer key, JSON errors, and server-sent event frames.

export const KEY_STORE = "citewise.apiKey";
export const $ = (id) => document.getElementById(id);

export function headers(json) {
  const h = json ? { "Content-Type": "application/json" } : {};
  const key = localStorage.getItem(KEY_STORE);
  if (key) h.Authorization = "Bearer " + key;
  return h;
}

export async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) return body.error.message;
  } catch (_) { /* not JSON */ }
  return "the server answered " + response.status;
}

export function needKey(message) {
  $("settings").open = true;
  $("api-key").focus();
  return message + " — paste the server's API key under Settings.";
}

export function parseEvent(raw) {
  let event = "message";
  const data = [];
  for (const line of raw.split("\n")) {
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  return { event, data: data.length ? JSON.parse(data.join("\n")) : null };
}
