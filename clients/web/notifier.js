// The browser's side of alerts (alerts.js says what to alert): desktop notifications through
// the Notification API, and a short chime made with WebAudio (no sound file to fetch).
//
// The permission is asked only from a click of the person's (`askPermission`, called by the
// "Enable desktop notifications" button), never on load: browsers ignore or penalise prompts
// nobody asked for. Where a page may not make notifications itself (Chrome on Android allows
// them only through a service worker), the notification goes through the page's service worker
// registration if there is one; its click is then the service worker's to handle.
//
// A room's notification is closed once it is seen: when this tab shows the room, when another
// tab of the person's says it does (tabs.js `toClose`), and when the room is read up to its
// message on another connection (the `read` event: many rooms read at once close theirs in one
// pass, dismissals.js). The service worker's notifications of the room (pushes) are closed then
// too, except on each render (asking for them is not free).
//
// Browsers start an AudioContext suspended until the person has interacted with the page, so
// the chime's context is made (or resumed) on the first key or pointer press; a chime asked
// for before that is silent.

import { toClose } from "./dismissals.js";

const ICON = "icon.svg";
const shown = new Map(); // tag -> {notification, alert}: to close a room's once it is seen

/** The browser's permission: "default", "granted", "denied", or "unsupported". */
export function permission() {
  if (typeof Notification === "undefined") return "unsupported";
  return Notification.permission;
}

/**
 * Ask the browser for the permission (only from a click of the person's). Resolves with the
 * permission then, as `permission()` names it.
 */
export async function askPermission() {
  if (typeof Notification === "undefined") return "unsupported";
  try {
    // Old Safari takes a callback and returns nothing; the others return a promise.
    const answer = await new Promise((resolve) => {
      const promise = Notification.requestPermission(resolve);
      if (promise && typeof promise.then === "function") promise.then(resolve, () => resolve());
    });
    return typeof answer === "string" ? answer : permission();
  } catch {
    return permission();
  }
}

/** Call `changed(permission)` when the person changes it in the browser's settings. */
export function watchPermission(changed) {
  if (!navigator.permissions || typeof navigator.permissions.query !== "function") return;
  navigator.permissions.query({ name: "notifications" }).then((status) => {
    status.addEventListener("change", () => changed(permission()));
  }, () => {});
}

/**
 * Show a notification for `alert` (alerts.js `alertFor`): its title and body; a click brings
 * the page forward and calls `opened(alert)`. A later one of the same room replaces it.
 */
export function notify(alert, opened) {
  if (permission() !== "granted") return;
  const options = { body: alert.body, tag: alert.tag, renotify: true, icon: ICON,
    data: { room: alert.room, msg_id: alert.msgId, seq: alert.seq } };
  let notification;
  try {
    notification = new Notification(alert.title, options);
  } catch {
    // No notifications made by pages here (Chrome on Android): the service worker's.
    if (navigator.serviceWorker) {
      navigator.serviceWorker.getRegistration().then((registration) => {
        if (registration) return registration.showNotification(alert.title, options);
        return undefined;
      }).catch(() => {});
    }
    return;
  }
  shown.set(alert.tag, { notification, alert });
  notification.addEventListener("click", () => {
    window.focus();
    notification.close();
    opened(alert);
  });
  notification.addEventListener("close", () => {
    if (shown.get(alert.tag)?.notification === notification) shown.delete(alert.tag);
  });
}

/** The rooms this page shows a notification for now. */
export function shownRooms() {
  return [...shown.values()].map(({ alert }) => alert.room);
}

/**
 * Close the notification of the room with this tag, if one is shown (the room is seen).
 * With `workers`, those the service worker shows under the tag too (pushes that came while no
 * page was open): asked of the browser, so not on every render.
 */
export function dismiss(tag, { workers = false } = {}) {
  const held = shown.get(tag);
  if (held) {
    shown.delete(tag);
    held.notification.close();
  }
  if (workers) closeWorkers({ tag }, (notes) => notes);
}

/**
 * Close what rooms read elsewhere cover (`reads`: room -> the seq each was read up to,
 * gathered by dismissals.js): the notifications this page shows and the service worker's of
 * those rooms that tell of a message at or before that seq. One pass for them all: the
 * service worker's registration is asked once.
 */
export function dismissRead(reads) {
  if (!reads.size) return;
  for (const [tag, held] of [...shown]) {
    if (toClose([{ tag, data: { seq: held.alert.seq } }], reads).length) {
      shown.delete(tag);
      held.notification.close();
    }
  }
  closeWorkers({}, (notes) => toClose(notes, reads));
}

/** Close the service worker's notifications `filter` finds, of those `pick` keeps. */
function closeWorkers(filter, pick) {
  if (!navigator.serviceWorker) return;
  navigator.serviceWorker.getRegistration().then((registration) => {
    if (!registration || typeof registration.getNotifications !== "function") return undefined;
    return registration.getNotifications(filter).then((notes) => {
      for (const note of pick(notes)) note.close();
    });
  }).catch(() => {});
}

// -- the chime -------------------------------------------------------------------------------

let audio = null;

function context() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return null;
  if (!audio) {
    try {
      audio = new Context();
    } catch {
      return null;
    }
  }
  if (audio.state === "suspended") audio.resume().catch(() => {});
  return audio;
}

/** Make (or wake) the audio context on the person's first key or pointer press. */
export function prepareSound() {
  const wake = () => {
    context();
    document.removeEventListener("pointerdown", wake, true);
    document.removeEventListener("keydown", wake, true);
  };
  document.addEventListener("pointerdown", wake, true);
  document.addEventListener("keydown", wake, true);
}

/** Two short soft notes, rising (about a quarter of a second). */
export function chime() {
  const ctx = context();
  if (!ctx) return;
  const start = ctx.currentTime + 0.01;
  for (const [offset, frequency] of [[0, 880], [0.11, 1318.5]]) {
    const tone = ctx.createOscillator();
    const gain = ctx.createGain();
    tone.type = "sine";
    tone.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, start + offset);
    gain.gain.exponentialRampToValueAtTime(0.12, start + offset + 0.015);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.16);
    tone.connect(gain).connect(ctx.destination);
    tone.start(start + offset);
    tone.stop(start + offset + 0.18);
  }
}
