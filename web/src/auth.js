// The API key, when the server asks for one: kept in localStorage, sent as a Bearer header by
// fetch and XHR, and as ?access_token= where the browser cannot set headers (event streams,
// audio and download links).
const storageKey = "msaas.key";

export function apiKey() {
  return localStorage.getItem(storageKey) ?? "";
}

export function setApiKey(value) {
  if (value) localStorage.setItem(storageKey, value);
  else localStorage.removeItem(storageKey);
}

export function authHeaders() {
  const key = apiKey();
  return key ? { Authorization: `Bearer ${key}` } : {};
}

export function withKey(url) {
  const key = apiKey();
  if (!key || !url) return url;
  return `${url}${url.includes("?") ? "&" : "?"}access_token=${encodeURIComponent(key)}`;
}

// fetch() with the key; a 401 calls onMissingKey (the page then asks for one).
export let onMissingKey = () => {};
export function setOnMissingKey(callback) {
  onMissingKey = callback;
}

export async function apiFetch(url, options = {}) {
  const response = await fetch(url, { ...options, headers: { ...authHeaders(), ...options.headers } });
  if (response.status === 401) onMissingKey();
  return response;
}
