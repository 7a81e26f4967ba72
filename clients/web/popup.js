// Small popups anchored to what opened them: a menu (arrow keys, Home/End, Escape, Tab leaves
// it) and a panel (a non-modal dialog: Tab moves inside it as anywhere, Escape closes). One is
// open at a time; a press outside, a scroll of the page's lists or a resize closes it. Placed
// through the CSSOM: the CSP allows no style attributes in markup.

import { h } from "./dom.js";

let open = null; // {element, opener, onClose, back}

document.addEventListener("pointerdown", (event) => {
  if (open && !open.element.contains(event.target) && !open.opener.contains(event.target)) {
    closePopup(false);
  }
}, true);
window.addEventListener("resize", () => closePopup(false));

/** Whether a popup opened by `opener` is open. */
export function isOpenFrom(opener) {
  return Boolean(open) && open.opener === opener;
}

/**
 * Open a menu under `opener` (or at `point` {x, y}, for a context menu): `items` are
 * [{label, checked?, toggle?, run, hint?, keys?}]; `checked` makes them radio items, or with
 * `toggle` a checkbox item (a setting on or off); `hint` is the item's key shown at its end
 * ("Shift Esc"; not part of its name), `keys` the same for assistive technology
 * (aria-keyshortcuts, "Shift+Escape"). Focus goes to the checked radio item (else the
 * first). `back()` gives what takes the focus when the menu closes (by default the opener;
 * one drawn anew meanwhile has a successor). Returns the menu element.
 */
export function openMenu(opener, { label, items, point = null, back = () => opener }) {
  // A menu of choices (radio items, with a check column) and actions: the actions' labels
  // line up with the choices' and a rule sets them apart.
  const mixed = items.some((item) => item.checked !== undefined)
    && items.some((item) => item.checked === undefined);
  const buttons = items.map((item) => {
    const radio = item.checked !== undefined;
    return h("button", {
      type: "button", tabindex: "-1", class: `menu-item${item.checked ? " checked" : ""}`,
      role: item.toggle && radio ? "menuitemcheckbox" : radio ? "menuitemradio" : "menuitem",
      "aria-checked": radio ? String(Boolean(item.checked)) : null,
      dataset: item.value ? { value: item.value } : null,
      "aria-keyshortcuts": item.keys || null,
      onclick: () => {
        closePopup(true);
        item.run();
      },
    }, radio || mixed ? h("span", { class: "menu-check", "aria-hidden": "true" },
      item.checked ? "✓" : "") : null, item.label,
    item.hint ? h("kbd", { class: "menu-kbd", "aria-hidden": "true" }, item.hint) : null);
  });
  const children = buttons.flatMap((button, index) => (index > 0 && mixed
    && (items[index].checked === undefined) !== (items[index - 1].checked === undefined)
    ? [h("div", { class: "menu-rule", role: "separator" }), button] : [button]));
  const menu = h("div", { class: "popup menu-popup", role: "menu", "aria-label": label },
    children);
  menu.addEventListener("keydown", (event) => {
    const index = buttons.indexOf(document.activeElement);
    const move = { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: buttons.length - 1 };
    if (event.key in move) {
      event.preventDefault();
      buttons[(move[event.key] + buttons.length) % buttons.length].focus();
    } else if (event.key === "Tab") {
      closePopup(false);
    }
  });
  place(opener, menu, point, () => {}, back);
  (buttons.find((b) => b.getAttribute("role") === "menuitemradio"
    && b.getAttribute("aria-checked") === "true") || buttons[0])?.focus();
  return menu;
}

/** Open `element` as a panel under `opener`; `onClose` runs when it closes. */
export function openPanel(opener, element, onClose = () => {}) {
  place(opener, element, null, onClose);
  // Tab out of the panel (to anything but its opener) closes it, as a click outside does.
  element.addEventListener("focusout", (event) => {
    const to = event.relatedTarget;
    if (to && !element.contains(to) && to !== opener && isOpenFrom(opener)) closePopup(false);
  });
  return element;
}

/** Close the open popup; with `refocus`, focus goes back to what opened it. */
export function closePopup(refocus) {
  const popup = open;
  if (!popup) return;
  open = null;
  popup.element.remove();
  if (popup.opener.hasAttribute("aria-expanded")) {
    popup.opener.setAttribute("aria-expanded", "false");
  }
  popup.onClose();
  const back = refocus ? popup.back() : null;
  if (back && back.isConnected) back.focus();
}

function place(opener, element, point, onClose = () => {}, back = () => opener) {
  closePopup(false);
  document.body.append(element);
  element.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      closePopup(true);
    }
  });
  const size = element.getBoundingClientRect();
  let top;
  let left;
  if (point) {
    top = point.y + size.height <= window.innerHeight ? point.y : point.y - size.height;
    left = point.x;
  } else {
    const at = opener.getBoundingClientRect();
    const below = at.bottom + 4 + size.height <= window.innerHeight;
    top = below ? at.bottom + 4 : at.top - 4 - size.height;
    // Under the opener's left edge when there is room, else ending at its right edge.
    left = at.left + size.width <= window.innerWidth - 4 ? at.left : at.right - size.width;
  }
  top = Math.min(Math.max(4, top), window.innerHeight - size.height - 4);
  left = Math.min(Math.max(4, left), window.innerWidth - size.width - 4);
  element.style.top = `${Math.round(Math.max(4, top))}px`;
  element.style.left = `${Math.round(Math.max(4, left))}px`;
  if (opener.hasAttribute("aria-expanded")) opener.setAttribute("aria-expanded", "true");
  open = { element, opener, onClose, back };
}
