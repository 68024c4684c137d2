// The small helpers views use to touch the page: finding and making elements (text from the
// server only ever goes in as text nodes, never as HTML), bringing a list in line while
// keeping focus, buttons busy while their request travels, and the browser's storage.

export const $ = (id) => document.getElementById(id);

/** Create an element; string children become text nodes (never HTML). */
export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") element.className = value;
    else if (name === "text") element.textContent = value;
    else if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return element;
}

export function timeElement(date, text) {
  return el("time", { datetime: date.toISOString().replace(/\.\d{3}Z$/, "Z"), text });
}

/** Read (`value` omitted), write, or with `null` forget a remembered value. */
export function storage(key, value) {
  try {
    if (value === undefined) return localStorage.getItem(key);
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    // Storage may be unavailable (private mode, disabled): then nothing is remembered.
  }
  return null;
}

/** Disable a button while its request is in flight, keeping focus on it (aria-disabled). */
export function busy(button, promise) {
  button.setAttribute("aria-disabled", "true");
  return promise.finally(() => button.removeAttribute("aria-disabled"));
}

export function isBusy(button) {
  return button.disabled || button.getAttribute("aria-disabled") === "true";
}

/**
 * Bring `list`'s children in line with `entries` ({key, signature, build}), keeping elements
 * whose signature did not change and moving focus sensibly when the focused one goes.
 */
export function reconcile(list, entries, fallbackFocus) {
  const focused = list.contains(document.activeElement) ? document.activeElement : null;
  const focusedItem = focused ? [...list.children].find((child) => child.contains(focused)) : null;
  const focusKey = focused?.dataset.focusKey ?? null;
  const focusedIndex = focusedItem ? [...list.children].indexOf(focusedItem) : -1;

  const existing = new Map([...list.children].map((child) => [child.dataset.key, child]));
  const wanted = entries.map((entry) => {
    const old = existing.get(String(entry.key));
    if (old && old.dataset.signature === entry.signature) return old;
    const fresh = entry.build();
    fresh.dataset.key = String(entry.key);
    fresh.dataset.signature = entry.signature;
    return fresh;
  });
  const keep = new Set(wanted);
  for (const child of [...list.children]) if (!keep.has(child)) child.remove();
  for (const [index, child] of wanted.entries()) {
    if (list.children[index] !== child) list.insertBefore(child, list.children[index] ?? null);
  }

  if (focused && !list.contains(document.activeElement)) {
    const same = focusedItem && list.querySelector(`:scope > [data-key="${CSS.escape(focusedItem.dataset.key)}"]`);
    const candidates = [
      same && focusKey ? same.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`) : null,
      same?.querySelector("button:not([disabled]), input, select, textarea"),
      list.children[Math.min(focusedIndex, list.children.length - 1)]?.querySelector("button:not([disabled])"),
      fallbackFocus,
    ];
    const target = candidates.find(Boolean);
    if (target) {
      if (target === fallbackFocus && !target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
      target.focus();
    }
  }
}

/** Replace `old` with `fresh`, carrying focus over to the element with the same focus key. */
export function replaceKeepingFocus(old, fresh) {
  const focused = old.contains(document.activeElement) ? document.activeElement : null;
  const key = focused?.dataset.focusKey;
  old.replaceWith(fresh);
  if (focused) {
    const target = (key && fresh.querySelector(`[data-focus-key="${CSS.escape(key)}"]`))
      ?? fresh.querySelector("button:not([disabled]), input:not([disabled])");
    target?.focus();
  }
}
