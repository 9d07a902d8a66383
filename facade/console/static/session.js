// The API key of this browser tab: sessionStorage only (gone when the tab closes, never in a
// cookie or a URL, so no request carries it unless the console adds the header itself).
const STORAGE_KEY = "llm-gateway-key";

export function getKey() {
  return sessionStorage.getItem(STORAGE_KEY);
}

export function setKey(key) {
  sessionStorage.setItem(STORAGE_KEY, key);
}

export function clearKey() {
  sessionStorage.removeItem(STORAGE_KEY);
}
