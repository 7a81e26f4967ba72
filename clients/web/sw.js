// chatd's service worker (a module worker, registered by install.js at scope "/"). Three jobs:
//
// 1. The offline shell (shell.js). At install it caches every file of the page, fetched fresh,
//    in a cache named after the shell's version. While the server answers, the page's files
//    come from the network (revalidated against their ETags, as without a worker), so the
//    worker never shows an old page when a new one is there; when the network fails (the
//    daemon is down, the machine is offline) or a proxy says 5xx, the cached file answers,
//    and a reload shows the page with its offline banner instead of the browser's error page.
//    Nothing else is ever cached: the API, /ws, files and signed links pass through untouched.
//
// 2. Updates: skipWaiting and clients.claim. Since the page's files come from the network
//    whenever it answers, a new worker has no old files to keep consistent with an open tab
//    (an open tab already has its modules), so it takes over at once and the old cache goes;
//    no "new version" prompt is needed.
//
// 3. Web Push (webpush.js). A push shows a notification, one tag per room (a reminder of a
//    saved message: one of its own), unless a visible window already shows that room (each
//    visible window is asked which room it shows); a mention's, and a notification keyword's
//    (kind "keyword"), ring again (webpush.js notificationFor). A click focuses a window of the page and
//    tells it to open the room, or opens /#room=NAME.

import {
  MESSAGE_TYPES, clientToFocus, notificationFor, parsePushPayload, roomUrl, visibleClients,
} from "./webpush.js";
import { cacheName, preferCached, readShell, shellEntry, staleCaches } from "./shell.js";

// The server writes {version, files} here as it serves this file (chatd/http/static.py).
const SHELL = readShell("__CHATD_SHELL__");
const CACHE = SHELL.version === null ? null : cacheName(SHELL.version);
// How long a visible window has to say which room it shows. A page answers at once when idle,
// but only between its own tasks: a long one (a big render, a loaded machine) holds the answer
// back for seconds, and a page that is read must not be notified of what it shows. So the
// bound is one that only a page that never answers (hung, or not chatd's) reaches; the
// notification of another room waits that long only then.
const ASK_MS = 10_000;

const scope = () => self.registration.scope;

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    if (CACHE !== null) {
      const cache = await caches.open(CACHE);
      // "reload": past the HTTP cache, so the cached shell is the files of this version.
      await cache.addAll([...SHELL.files].map((name) => new Request(new URL(name, scope()),
        { cache: "reload" })));
    }
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(staleCaches(names, CACHE).map((name) => caches.delete(name)));
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  if (CACHE === null) return;
  const entry = shellEntry(scope(), event.request, SHELL.files);
  if (entry !== null) event.respondWith(networkFirst(event.request, entry));
});

/** The network's answer, or the cached shell file `entry` when the network fails. */
async function networkFirst(request, entry) {
  let answer;
  try {
    answer = await fetch(request);
    if (!preferCached(answer.status)) return answer;
  } catch (error) {
    answer = error;
  }
  const cache = await caches.open(CACHE);
  // ignoreVary: the files vary by Accept-Encoding, which no script-made request carries.
  const cached = await cache.match(new URL(entry, scope()), { ignoreVary: true });
  if (cached) return cached;
  if (answer instanceof Response) return answer;
  throw answer;
}

// -- Web Push ----------------------------------------------------------------------------------

self.addEventListener("push", (event) => {
  event.waitUntil(showPush(event.data));
});

async function showPush(data) {
  let text;
  try {
    text = data ? data.text() : "";
  } catch {
    text = "";
  }
  const payload = parsePushPayload(text);
  if (payload.room !== null && await roomIsShown(payload.room)) return;
  const { title, options } = notificationFor(payload, scope());
  await self.registration.showNotification(title, options);
}

/** Whether a visible window of the page shows `room` now (each one is asked). */
async function roomIsShown(room) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const answers = await Promise.all(visibleClients(windows).map(askWhichRoom));
  return answers.includes(room);
}

/** The room `client` shows, or null (no answer within ASK_MS: a page that does not answer). */
function askWhichRoom(client) {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(() => resolve(null), ASK_MS);
    channel.port1.onmessage = (event) => {
      clearTimeout(timer);
      const room = event.data && event.data.room;
      resolve(typeof room === "string" ? room : null);
    };
    client.postMessage({ type: MESSAGE_TYPES.whichRoom }, [channel.port2]);
  });
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const data = event.notification.data || {};
  event.waitUntil(openRoom(typeof data.room === "string" ? data.room : null));
});

/** Bring a window of the page forward showing `room` (null: just the page). */
async function openRoom(room) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const client = clientToFocus(windows);
  if (client === null) {
    await self.clients.openWindow(roomUrl(scope(), room));
    return;
  }
  if (room !== null) client.postMessage({ type: MESSAGE_TYPES.openRoom, room });
  try {
    await client.focus();
  } catch {
    // Not allowed (no click to go with it): the window opens the room all the same.
  }
}
