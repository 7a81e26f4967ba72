// DOM helpers. Nothing here ever parses markup: text goes in through textContent (or text
// nodes), attributes through setAttribute, so user-supplied strings stay data.

import * as clock from "./clock.js";

/** The element with this id (the page's fixed skeleton). */
export const $ = (id) => document.getElementById(id);

/**
 * Build an element: h("li", {class: "x", "aria-label": "y"}, child, "text", ...).
 * Strings become text nodes; null/false children are skipped. Keys starting with "on" bind
 * event listeners; `dataset` sets data-* attributes; `hidden`/`disabled` set properties.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "hidden" || key === "disabled" || key === "checked") {
      el[key] = Boolean(value);
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/**
 * Draw `list` from `items` ([{key, sig, build}], in order), keyed, for the lists drawn again
 * on live events (the member list on every presence, the sidebar on every message): an element
 * drawn before under the same `key` with the same `sig` (a string of what it shows) is kept
 * where it is, and only what changed is built anew (`build()`) or moved. What is kept keeps
 * the focus, and stays the opener of a menu it opened.
 *
 * A focus inside an element built anew, moved or gone goes back to the same control (the same
 * `data-focus`, else the first button) of the element now under the same key, or, when the key
 * is gone, of the one in its place (else the last): Enter then still acts, as a keyboard user
 * expects.
 */
export function drawKeyed(list, items) {
  const active = document.activeElement;
  const children = [...list.children];
  const holder = active && active !== list && list.contains(active)
    ? children.find((child) => child.contains(active)) : null;
  const focus = holder ? { key: holder.chatdKey, at: children.indexOf(holder),
    control: active.closest("[data-focus]")?.dataset.focus } : null;
  const old = new Map(children.map((child) => [child.chatdKey, child]));
  const nodes = items.map(({ key, sig, build }) => {
    const held = old.get(key);
    if (held && held.chatdSig === sig) {
      old.delete(key);
      return held;
    }
    const node = build();
    node.chatdKey = key;
    node.chatdSig = sig;
    return node;
  });
  const keep = new Set(nodes);
  for (const child of children) if (!keep.has(child)) child.remove();
  // Move only what is out of place (a moved element loses the focus).
  let cursor = list.firstElementChild;
  for (const node of nodes) {
    if (node === cursor) cursor = cursor.nextElementSibling;
    else list.insertBefore(node, cursor);
  }
  if (!focus || list.contains(document.activeElement)) return;
  const heir = nodes.find((node) => node.chatdKey === focus.key)
    || nodes[Math.min(focus.at, nodes.length - 1)];
  const control = heir && ((focus.control !== undefined && [...heir.querySelectorAll(
    "[data-focus]")].find((el) => el.dataset.focus === focus.control))
    || heir.querySelector("button, [tabindex]"));
  if (control) control.focus({ preventScroll: true });
}

const TOAST_MS = 5000;
const TOAST_ACTION_MS = 10000; // a toast with a button: time to reach it

const SVG = "http://www.w3.org/2000/svg";

/** An inline SVG icon of one path (`d`), decorative: hidden from screen readers. */
export function svgIcon(d) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", d);
  svg.append(path);
  return svg;
}

/**
 * Say something in passing, at the bottom of the page, for a few seconds; with `action`
 * ({label, run}), a button after the words that runs it (and the toast stays a little longer).
 */
export function toast(text, action = null) {
  const item = h("div", { class: `toast${action ? " with-action" : ""}` }, text,
    action ? h("button", { type: "button", class: "toast-action", onclick: () => {
      item.remove();
      action.run();
    } }, action.label) : null);
  $("toasts").append(item);
  setTimeout(() => item.remove(), action ? TOAST_ACTION_MS : TOAST_MS);
}

/** One of eight colour classes for a user name, stable across sessions. */
export function colourClass(name) {
  let hash = 0;
  for (const ch of name.toLowerCase()) hash = (hash * 31 + ch.codePointAt(0)) >>> 0;
  return `c${hash % 8}`;
}

/** "14:05" in the viewer's locale and time zone. */
export function formatTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/**
 * "Today", "Yesterday" or a date such as "Mon, 3 Mar 2025", in local time; today is the
 * server's (clock.js), as `ms` is.
 */
export function formatDay(ms) {
  const day = new Date(ms);
  const today = new Date(clock.now());
  const yesterday = new Date(today);
  yesterday.setDate(today.getDate() - 1);
  if (day.toDateString() === today.toDateString()) return "Today";
  if (day.toDateString() === yesterday.toDateString()) return "Yesterday";
  return day.toLocaleDateString([], {
    weekday: "short", day: "numeric", month: "short", year: "numeric",
  });
}

/** A full local timestamp, for tooltips. */
export function formatFull(ms) {
  return new Date(ms).toLocaleString();
}
