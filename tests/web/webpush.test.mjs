// Web Push's pure rules (webpush.js): the server key's encoding, what the server is sent and
// when, what a push shows, which window a click goes to, and the address that opens a room.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  addressFromHash, clientToFocus, messageHash, messageUrl, needsPost, notificationFor,
  parsePushPayload, placeOfUrl, postedRecord, replacedEndpoint, roomFromHash, roomHash, roomUrl,
  sameServerKey, subscriptionBody, uint8ArrayToUrlBase64, urlBase64ToUint8Array, visibleClients,
} from "../../clients/web/webpush.js";

const SCOPE = "https://chat.example/";
// An uncompressed P-256 point as the server gives it (65 bytes, base64url without padding).
const KEY = "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM";

/** A generator of integers in [0, n), seeded (the LCG of Numerical Recipes). */
function generator(seed) {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return Math.floor((s / 2 ** 32) * n);
  };
}

test("the server's base64url key becomes the 65 bytes of a P-256 point", () => {
  const bytes = urlBase64ToUint8Array(KEY);
  assert.ok(bytes instanceof Uint8Array);
  assert.equal(bytes.length, 65);
  assert.equal(bytes[0], 0x04, "uncompressed point");
  assert.equal(uint8ArrayToUrlBase64(bytes), KEY);
  assert.deepEqual(urlBase64ToUint8Array(`${KEY}=`), bytes, "padding is allowed");
});

test("base64url round-trips any bytes, padded or not, and is URL-safe", () => {
  for (let seed = 1; seed <= 200; seed += 1) {
    const next = generator(seed);
    const bytes = Uint8Array.from({ length: next(80) }, () => next(256));
    const text = uint8ArrayToUrlBase64(bytes);
    assert.match(text, /^[A-Za-z0-9_-]*$/, `seed ${seed}`);
    assert.deepEqual(urlBase64ToUint8Array(text), bytes, `seed ${seed}`);
    const padded = text + "=".repeat((4 - (text.length % 4)) % 4);
    assert.deepEqual(urlBase64ToUint8Array(padded), bytes, `seed ${seed} padded`);
  }
});

test("what is not base64url is refused with a TypeError", () => {
  for (const bad of ["a+b", "a/b", "ab cd", "abcde", "a=b", "ab===", null, 42, undefined]) {
    assert.throws(() => urlBase64ToUint8Array(bad), TypeError, String(bad));
  }
  assert.deepEqual(urlBase64ToUint8Array(""), new Uint8Array(0));
});

test("a subscription made for another server key must be replaced", () => {
  const same = urlBase64ToUint8Array(KEY).buffer;
  assert.equal(sameServerKey(same, KEY), true);
  const other = new Uint8Array(same.slice(0));
  other[10] ^= 1;
  assert.equal(sameServerKey(other.buffer, KEY), false);
  assert.equal(sameServerKey(null, KEY), false, "no key recorded");
  assert.equal(sameServerKey(same, "not base64!"), false);
});

test("the server is sent {endpoint, keys: {p256dh, auth}} and nothing else", () => {
  const json = { endpoint: "https://push.example/abc", expirationTime: null,
    keys: { p256dh: "BP", auth: "au" } };
  assert.deepEqual(subscriptionBody(json),
    { endpoint: "https://push.example/abc", keys: { p256dh: "BP", auth: "au" } });
  assert.equal(subscriptionBody({ endpoint: "https://push.example/abc" }), null);
  assert.equal(subscriptionBody({ endpoint: "", keys: { p256dh: "BP", auth: "au" } }), null);
  assert.equal(subscriptionBody({ endpoint: "x", keys: { p256dh: "BP" } }), null);
  assert.equal(subscriptionBody(null), null);
});

test("a subscription is posted again only when it or the user changed", () => {
  const body = { endpoint: "https://push.example/abc", keys: { p256dh: "BP", auth: "au" } };
  assert.equal(needsPost(null, "ann", body), true, "never posted");
  const saved = postedRecord("Ann", body);
  assert.equal(needsPost(saved, "ann", body), false, "names compare without case");
  assert.equal(needsPost(saved, "bob", body), true, "another user");
  assert.equal(needsPost(saved, "ann", { ...body, endpoint: "https://push.example/new" }), true);
  assert.equal(needsPost(saved, "ann", { ...body, keys: { p256dh: "BQ", auth: "au" } }), true);
  assert.equal(needsPost(saved, "ann", { ...body, keys: { p256dh: "BP", auth: "av" } }), true);
  assert.equal(needsPost("garbage", "ann", body), true, "a damaged record");
  assert.equal(needsPost(saved, "ann", null), false, "nothing to post");
});

test("the endpoint a new subscription replaces is the user's last one, if it differs", () => {
  const body = { endpoint: "https://push.example/new", keys: { p256dh: "BP", auth: "au" } };
  const old = postedRecord("ann", { ...body, endpoint: "https://push.example/old" });
  assert.equal(replacedEndpoint(old, "Ann", body), "https://push.example/old");
  assert.equal(replacedEndpoint(postedRecord("ann", body), "ann", body), null, "the same one");
  assert.equal(replacedEndpoint(old, "bob", body), null, "another user's: not bob's to delete");
  assert.equal(replacedEndpoint(null, "ann", body), null);
  assert.equal(replacedEndpoint({ user: "ann" }, "ann", body), null);
  assert.equal(replacedEndpoint(old, "ann", null), null);
});

test("a payload is read leniently: what is missing or wrong becomes a default", () => {
  const full = { room: "dev", seq: 7, from: "bob", kind: "mention", text: "hi @ann",
    title: "bob in #dev" };
  assert.deepEqual(parsePushPayload(JSON.stringify(full)), full);
  const empty = { room: null, seq: null, from: "", kind: "message", text: "", title: "" };
  for (const text of ["", "not json", "[]", "null", "42", '"room"']) {
    assert.deepEqual(parsePushPayload(text), empty, text);
  }
  assert.deepEqual(parsePushPayload(JSON.stringify({ room: 5, seq: -1, kind: "boss", from: [] })),
    empty);
  assert.equal(parsePushPayload(JSON.stringify({ room: "dev", seq: 1.5 })).seq, null);
});

test("a DM rings again under its room's tag, with the sender as title", () => {
  const { title, options } = notificationFor(parsePushPayload(JSON.stringify(
    { room: "ann@bob", seq: 3, from: "bob", kind: "dm", text: "lunch?", title: "" })), SCOPE);
  assert.equal(title, "bob");
  assert.deepEqual(options, {
    body: "lunch?",
    tag: "chatd:ann@bob",
    renotify: true,
    icon: "https://chat.example/icons/icon-192.png",
    badge: "https://chat.example/icons/badge-96.png",
    data: { room: "ann@bob", seq: 3 },
  });
});

test("a reminder of a saved message rings under a tag of its own, not its room's", () => {
  const reminder = notificationFor(parsePushPayload(JSON.stringify(
    { room: "dev", seq: 12, from: "bob", kind: "reminder", text: "call the bank",
      title: "Reminder: bob in dev" })), SCOPE);
  assert.equal(reminder.title, "Reminder: bob in dev");
  assert.equal(reminder.options.tag, "chatd-reminder:dev:12");
  assert.equal(reminder.options.renotify, true);
  const untitled = notificationFor(parsePushPayload(JSON.stringify(
    { room: "dev", seq: 12, from: "bob", kind: "reminder", text: "x" })), SCOPE);
  assert.equal(untitled.title, "Reminder: bob in #dev");
});

test("the server's title wins; a message of a room set to all replaces the last quietly", () => {
  const mention = notificationFor(parsePushPayload(JSON.stringify(
    { room: "dev", seq: 9, from: "bob", kind: "mention", text: "@ann look", title: "bob in #dev" })),
  SCOPE);
  assert.equal(mention.title, "bob in #dev");
  assert.equal(mention.options.renotify, true);
  const plain = notificationFor(parsePushPayload(JSON.stringify(
    { room: "dev", seq: 10, from: "bob", kind: "message", text: "ok" })), SCOPE);
  assert.equal(plain.title, "bob in #dev");
  assert.equal(plain.options.renotify, false);
  assert.equal(plain.options.tag, mention.options.tag, "one tag per room: they collapse");
});

test("a keyword's push is shown as a mention's: its room's tag, ringing again", () => {
  const payload = { room: "dev", seq: 9, from: "bob", kind: "keyword", text: "deploy is done" };
  assert.equal(parsePushPayload(JSON.stringify(payload)).kind, "keyword");
  const keyword = notificationFor(parsePushPayload(JSON.stringify(payload)), SCOPE);
  const mention = notificationFor(parsePushPayload(JSON.stringify({ ...payload, kind: "mention" })),
    SCOPE);
  assert.deepEqual(keyword, mention);
  assert.equal(keyword.title, "bob in #dev");
  assert.equal(keyword.options.renotify, true);
});

test("a poll's push shows the server's words for it: \"📊 Poll: \" and its question", () => {
  const poll = notificationFor(parsePushPayload(JSON.stringify({ room: "general", seq: 7,
    from: "ann", kind: "message", text: "📊 Poll: Lunch on which day?",
    title: "ann in general" })), SCOPE);
  assert.equal(poll.title, "ann in general");
  assert.equal(poll.options.body, "📊 Poll: Lunch on which day?");
  assert.equal(poll.options.tag, "chatd:general");
});

test("files only, or a payload that says nothing, still shows something readable", () => {
  const files = notificationFor(parsePushPayload(JSON.stringify(
    { room: "dev", seq: 2, from: "bob", kind: "mention", text: "" })), SCOPE);
  assert.equal(files.options.body, "Sent files");
  const nothing = notificationFor(parsePushPayload("garbage"), SCOPE);
  assert.equal(nothing.title, "chatd");
  assert.equal(nothing.options.body, "New activity");
  assert.equal(nothing.options.tag, "chatd");
  assert.equal(nothing.options.renotify, false, "renotify needs a tag of its own");
  assert.deepEqual(nothing.options.data, { room: null, seq: null });
  const long = notificationFor(parsePushPayload(JSON.stringify(
    { room: "dev", text: "x".repeat(1000), title: "t".repeat(500) })), SCOPE);
  assert.equal(long.options.body.length, 400);
  assert.equal(long.title.length, 120);
  assert.ok(long.title.endsWith("…"));
});

test("a click goes to the focused window, else a visible one, else the most recent", () => {
  const a = { id: "a", focused: false, visibilityState: "hidden" };
  const b = { id: "b", focused: false, visibilityState: "visible" };
  const c = { id: "c", focused: true, visibilityState: "visible" };
  assert.equal(clientToFocus([a, b, c]), c);
  assert.equal(clientToFocus([a, b]), b);
  assert.equal(clientToFocus([a]), a);
  assert.equal(clientToFocus([]), null, "none: a new window opens");
  assert.equal(clientToFocus(undefined), null);
  assert.deepEqual(visibleClients([a, b, c]), [b, c]);
});

test("the address of a room round-trips any name, and other fragments name none", () => {
  for (const room of ["general", "ann@bob", "a b/c#d?e", "émoji-🎉", "%41"]) {
    assert.equal(roomFromHash(roomHash(room)), room);
    assert.equal(roomFromHash(new URL(roomUrl(SCOPE, room)).hash), room);
  }
  assert.equal(roomUrl(SCOPE, "dev"), "https://chat.example/#room=dev");
  assert.equal(roomUrl(SCOPE, null), "https://chat.example/");
  for (const hash of ["", "#", "#composer-text", "#room=", "#room=%E0%A4%A", null]) {
    assert.equal(roomFromHash(hash), null, String(hash));
  }
});

test("the address of a message round-trips any room name, its id, seq and thread", () => {
  for (const room of ["general", "@ann:bob", "a b/c#d?e&msg=9", "émoji-🎉", "%41"]) {
    assert.deepEqual(addressFromHash(messageHash(room, 42)),
      { room, msgId: 42, seq: null, thread: null });
    assert.deepEqual(addressFromHash(new URL(messageUrl(SCOPE, room, 7, { seq: 31 })).hash),
      { room, msgId: 7, seq: 31, thread: null });
    assert.deepEqual(addressFromHash(messageHash(room, 9, { seq: 4, thread: 2 })),
      { room, msgId: 9, seq: 4, thread: 2 });
    assert.equal(roomFromHash(messageHash(room, 42)), room, "a room address still");
  }
  assert.equal(messageUrl("https://chat.example/?x=1#room=old", "dev", 5),
    "https://chat.example/?x=1#room=dev&msg=5", "the page's fragment replaced");
  assert.equal(messageHash("dev", 5, { seq: 0, thread: null }), "#room=dev&msg=5",
    "no seq or thread but positive ones");
});

test("odd message addresses open the room, or name nothing; never throw", () => {
  const at = (room, msgId = null, seq = null, thread = null) => ({ room, msgId, seq, thread });
  const cases = [
    ["#room=dev", at("dev")], // an old address
    ["#room=dev&msg=", at("dev")],
    ["#room=dev&msg", at("dev")],
    ["#room=dev&msg=abc", at("dev")],
    ["#room=dev&msg=0", at("dev")],
    ["#room=dev&msg=-3", at("dev")],
    ["#room=dev&msg=1.5", at("dev")],
    ["#room=dev&msg=012", at("dev")],
    ["#room=dev&msg=99999999999999999", at("dev")],
    ["#room=dev&msg=9007199254740993", at("dev")],
    ["#room=dev&seq=4&thread=2", at("dev")], // a seq and a thread without a message
    ["#room=dev&seq=4&msg=8", at("dev", 8, 4)],
    ["#room=dev&msg=8&thread=x", at("dev", 8)],
    ["#room=dev&msg=8&msg=9", at("dev", 8)], // the first one
    ["#room=dev&later=1&msg=8", at("dev", 8)], // unknown parts left alone
    ["#room=dev&&msg=8&", at("dev", 8)],
    ["#room=a%20b&msg=3", at("a b", 3)],
    ["#room=%40ann%3Abob&msg=3&thread=1", at("@ann:bob", 3, null, 1)],
  ];
  for (const [hash, expected] of cases) assert.deepEqual(addressFromHash(hash), expected, hash);
  for (const hash of ["", "#", "#msg=3", "#room=&msg=3", "#room=%E0%A4%A&msg=3", "room=dev",
    "#ROOM=dev", null, undefined, 42, {}]) {
    assert.equal(addressFromHash(hash), null, String(hash));
  }
});

test("a link names a place only when it is this very page with a room fragment", () => {
  const here = "https://chat.example/";
  assert.deepEqual(placeOfUrl("https://chat.example/#room=dev&msg=5", here),
    { room: "dev", msgId: 5, seq: null, thread: null });
  assert.deepEqual(placeOfUrl("https://CHAT.example:443/#room=dev", here),
    { room: "dev", msgId: null, seq: null, thread: null }, "the same origin, spelled otherwise");
  for (const url of ["https://chat.example/", "https://chat.example/#top",
    "http://chat.example/#room=dev", "https://chat.example:8443/#room=dev",
    "https://evil.example/#room=dev", "https://chat.example/other#room=dev",
    "https://chat.example/?q=1#room=dev", "https://chat.example.evil/#room=dev",
    "mailto:a@chat.example", "not a url", null]) {
    assert.equal(placeOfUrl(url, here), null, String(url));
  }
  assert.equal(placeOfUrl("https://chat.example/#room=dev", "nonsense"), null);
});
