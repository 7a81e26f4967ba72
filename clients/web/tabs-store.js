// Where the tabs of the page keep the record they share (tabs.js): IndexedDB, database "chatd",
// store "tabs", one record per user (by the lowercased name). Every change is a read and a
// write in one read-write transaction, which the browser runs one after another across tabs
// (tabs.js says why not localStorage). How a tab is known to be open: a Web Lock it holds
// until it goes. And how a tab tells the others that it changed the record in a way they act
// on (a look: they close their notifications of its room): a BroadcastChannel, which carries
// no record, only whose it is (IndexedDB has no change events). The only code that touches
// IndexedDB, Web Locks and that channel.

const DB_NAME = "chatd";
const DB_VERSION = 1;
const STORE = "tabs";
const OPEN = "chatd.tab."; // + a tab's name: the lock that tab holds while it is open
const CHANNEL = "chatd.tabs"; // the BroadcastChannel of `announce` and `watch`
/** A change not done in this time (ms) is given up on (the caller goes on without it). */
export const UPDATE_MS = 2000;

let opening = null; // the promise of the open database, shared by every change of this tab

function database() {
  if (opening) return opening;
  opening = new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, DB_VERSION);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => {
      const db = request.result;
      // A later version opened elsewhere (a newer page): let it, and open again next time.
      db.onversionchange = () => {
        db.close();
        opening = null;
      };
      db.onclose = () => {
        opening = null; // closed by the browser (storage cleared): open again next time
      };
      resolve(db);
    };
    request.onerror = () => reject(request.error);
  });
  opening.catch(() => {
    opening = null; // refused now (private mode, storage off): try again next time
  });
  return opening;
}

/**
 * Change `user`'s record: `change(saved)` gets it as stored (undefined when there is none)
 * and returns {record, result}; `record` is stored in the same transaction. Resolves with
 * `result` once stored.
 *
 * Rejects when IndexedDB is missing or refuses (private mode, storage full), when `change`
 * throws, or after UPDATE_MS. Changes asked by one tab are done in the order asked.
 */
export function update(user, change) {
  const done = database().then((db) => new Promise((resolve, reject) => {
    const transaction = db.transaction(STORE, "readwrite");
    const store = transaction.objectStore(STORE);
    const key = user.toLowerCase();
    let result;
    const read = store.get(key);
    read.onsuccess = () => {
      const changed = change(read.result); // a throw here aborts the transaction
      result = changed.result;
      store.put(changed.record, key);
    };
    transaction.oncomplete = () => resolve(result);
    transaction.onabort = () => reject(transaction.error || new Error("aborted"));
  }));
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error("IndexedDB did not answer")), UPDATE_MS);
  });
  return Promise.race([done, late]).finally(() => clearTimeout(timer));
}

/**
 * `user`'s record as stored now (undefined when there is none), read after every change this
 * tab asked for before (the tests wait on it).
 */
export function read(user) {
  return database().then((db) => new Promise((resolve, reject) => {
    const transaction = db.transaction(STORE, "readonly");
    const request = transaction.objectStore(STORE).get(user.toLowerCase());
    transaction.oncomplete = () => resolve(request.result);
    transaction.onabort = () => reject(transaction.error || new Error("aborted"));
  }));
}

/** Forget `user`'s record (who logged out on purpose). Never rejects. */
export function forget(user) {
  return database().then((db) => new Promise((resolve) => {
    const transaction = db.transaction(STORE, "readwrite");
    transaction.objectStore(STORE).delete(user.toLowerCase());
    transaction.oncomplete = () => resolve();
    transaction.onabort = () => resolve();
  })).catch(() => {});
}

/**
 * Hold, as long as this document lives, the lock that says tab `tab` is open: the browser
 * lets it go when the tab closes, crashes or is discarded. Nothing where there are no Web
 * Locks (not a secure context). (A page holding a lock is not kept in Chrome's back-forward
 * cache; the page's WebSocket keeps it out already.)
 */
export function holdWhileOpen(tab) {
  if (!navigator.locks) return;
  navigator.locks.request(OPEN + tab, () => new Promise(() => {})).catch(() => {});
}

/**
 * The names of the tabs open now (`holdWhileOpen`: their locks held, or asked for), or null
 * where the browser cannot tell. Never rejects.
 */
export async function openTabs() {
  if (!navigator.locks) return null;
  try {
    const { held = [], pending = [] } = await navigator.locks.query();
    return new Set([...held, ...pending].map((lock) => lock.name || "")
      .filter((name) => name.startsWith(OPEN)).map((name) => name.slice(OPEN.length)));
  } catch {
    return null;
  }
}

let channel = null;

function broadcast() {
  if (channel === null && typeof BroadcastChannel !== "undefined") {
    channel = new BroadcastChannel(CHANNEL);
  }
  return channel;
}

/**
 * Tell the other tabs of this browser that `user`'s record changed (they read it again).
 * Nothing where there is no BroadcastChannel: the other tabs then learn of it at their next
 * read.
 */
export function announce(user) {
  const open = broadcast();
  if (open) open.postMessage({ user: user.toLowerCase() });
}

/**
 * Call `changed(user)` (lowercased) whenever another tab of this browser announces that the
 * record of `user` changed (never for this tab's own announcements).
 */
export function watch(changed) {
  const open = broadcast();
  if (!open) return;
  open.addEventListener("message", (event) => {
    const data = event.data;
    if (data && typeof data.user === "string") changed(data.user);
  });
}
