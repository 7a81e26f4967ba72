// The installable page and Web Push, the page's half (the worker is sw.js, the pure rules
// webpush.js). It registers the service worker, answers the worker's question "which room do
// you show?", opens the room that a notification click or the address (#room=NAME, and
// &msg=ID for a message: webpush.js addressFromHash) names, and keeps this browser's push
// subscription on the server while someone is logged in here.
//
// Permission: this module never asks for it (a page asks on a person's click, not on load).
// It subscribes as soon as the permission is "granted": after each welcome, when the
// Permissions API reports a change, and when sync() is called (the controller calls it once
// Notification.requestPermission() resolves: not every browser reports the change).
//
// Subscribing: GET /api/push/key; a subscription made for another key is replaced; the
// subscription is posted when it differs from the last one posted from this browser for this
// user (kept in localStorage), and the endpoint it replaces is then deleted on the server. Logging out (or the session ending) deletes it on the server
// while the token still works, unsubscribes it in the browser (a push service then answers the
// server 410 for it, should the DELETE not have reached it), and closes the notifications
// shown for the user.

import * as api from "./api.js";
import {
  addressFromHash, MESSAGE_TYPES, needsPost, postedRecord, replacedEndpoint, sameServerKey,
  subscriptionBody, urlBase64ToUint8Array,
} from "./webpush.js";

const POSTED_KEY = "chatd.push"; // {user, endpoint, p256dh, auth}: the last one posted
const WORKER = "/sw.js";
const SCOPE = "/";

function pushSupported() {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

export class Install {
  /**
   * `shownRoom()`: the room the page shows now, or null; `openRoom(room, at)`: show that room
   * (at the message `at` names, {msgId, seq, thread}, when not null), now or once the rooms
   * are known.
   */
  constructor({ shownRoom, openRoom }) {
    this.shownRoom = shownRoom;
    this.openRoom = openRoom;
    this.session = null;
    this.syncing = null; // the running sync, if any
    this.again = false; // another sync was asked for while one ran
    this.permission = null; // the PermissionStatus listened to (kept, or it is collected)
  }

  /** Open the room the address names (now and when it changes), register the worker and
   * listen to it. */
  start() {
    this.followAddress();
    window.addEventListener("hashchange", () => this.followAddress());
    // No worker outside a secure context (plain http other than localhost): the page works
    // as before, without the offline shell and pushes.
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.addEventListener("message", (event) => this.message(event));
    navigator.serviceWorker.startMessages();
    navigator.serviceWorker.register(WORKER, { type: "module", scope: SCOPE,
      updateViaCache: "none" }).catch((error) => {
      console.warn("chatd: the service worker did not register:", error);
    });
    if (navigator.permissions && pushSupported()) {
      navigator.permissions.query({ name: "notifications" }).then((status) => {
        this.permission = status;
        status.addEventListener("change", () => this.sync());
      }).catch(() => {});
    }
  }

  /**
   * Open the room named by the address's "#room=NAME" (at its message, with "&msg=ID"), and
   * take that off the address.
   */
  followAddress() {
    const address = addressFromHash(location.hash);
    if (address === null) return;
    history.replaceState(null, "", location.pathname + location.search);
    const { room, msgId, seq, thread } = address;
    this.openRoom(room, msgId === null ? null : { msgId, seq, thread });
  }

  message(event) {
    const data = event.data || {};
    if (data.type === MESSAGE_TYPES.whichRoom && event.ports && event.ports[0]) {
      const shown = document.visibilityState === "visible" ? this.shownRoom() : null;
      event.ports[0].postMessage({ room: shown });
    } else if (data.type === MESSAGE_TYPES.openRoom && typeof data.room === "string") {
      this.openRoom(data.room);
    }
  }

  /** Someone logged in (`session`: {token, username}); the subscription follows at sync. */
  signedIn(session) {
    this.session = session;
  }

  /** Whether this browser's push subscription was posted for `user` (pushes reach them). */
  pushedFor(user) {
    const saved = loadPosted();
    return Boolean(saved && typeof saved.user === "string" && typeof user === "string"
      && saved.user.toLowerCase() === user.toLowerCase());
  }

  /** Make sure the server has this browser's subscription for the user, if permitted. */
  sync() {
    if (this.syncing) {
      this.again = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      do {
        this.again = false;
        try {
          await this.syncNow();
        } catch (error) {
          // No push service (a browser without one, or no network to reach it): the page
          // works without pushes.
          console.warn("chatd: no push subscription:", error);
        }
      } while (this.again);
      this.syncing = null;
    })();
    return this.syncing;
  }

  async syncNow() {
    const session = this.session;
    if (!session || !pushSupported() || Notification.permission !== "granted") return;
    const registration = await navigator.serviceWorker.ready;
    const key = await api.pushKey();
    if (!key || this.session !== session) return;
    let subscription = await registration.pushManager.getSubscription();
    if (subscription && !sameServerKey(subscription.options.applicationServerKey, key)) {
      await subscription.unsubscribe(); // made for another key: this server cannot use it
      subscription = null;
    }
    if (!subscription) {
      subscription = await registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: urlBase64ToUint8Array(key),
      });
    }
    const body = subscriptionBody(subscription.toJSON());
    const saved = loadPosted();
    if (this.session !== session || !needsPost(saved, session.username, body)) return;
    await api.addPushSubscription(session.token, body);
    savePosted(postedRecord(session.username, body));
    const replaced = replacedEndpoint(saved, session.username, body);
    if (replaced !== null) {
      // Its push service would answer 410 for it sooner or later; tidy up now.
      await api.removePushSubscription(session.token, replaced).catch(() => {});
    }
  }

  /** The person left (`session`: the one that ended): no more pushes for them here. */
  async signedOut(session) {
    this.session = null;
    savePosted(null);
    if (!pushSupported()) return;
    try {
      const registration = await navigator.serviceWorker.getRegistration(SCOPE);
      if (!registration) return;
      for (const shown of await registration.getNotifications()) shown.close();
      const subscription = await registration.pushManager.getSubscription();
      if (!subscription) return;
      if (session) {
        try {
          await api.removePushSubscription(session.token, subscription.endpoint);
        } catch {
          // Unreachable or the token already invalid: unsubscribing below is what counts.
        }
      }
      await subscription.unsubscribe();
    } catch (error) {
      console.warn("chatd: the push subscription was not removed:", error);
    }
  }
}

function loadPosted() {
  try {
    return JSON.parse(localStorage.getItem(POSTED_KEY) || "null");
  } catch {
    return null;
  }
}

function savePosted(record) {
  try {
    if (record) localStorage.setItem(POSTED_KEY, JSON.stringify(record));
    else localStorage.removeItem(POSTED_KEY);
  } catch {
    // Storage refused: the subscription is posted again next time, which is harmless.
  }
}
