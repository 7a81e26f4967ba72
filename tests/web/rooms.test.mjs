// The room list: the "Join a room" dialog pages the public rooms and searches them
// (browse.js); the refresh of the user's own rooms follows the pages to the last one.

import assert from "node:assert/strict";
import { test } from "node:test";

import { nextPage, pageFailed, pageLoaded, searchFor, startBrowse } from "../../clients/web/browse.js";
import { apply, ROOMS_REFRESH } from "../../clients/web/state.js";
import { connected, requests, roomInfo } from "./fixtures.mjs";

const names = (browse) => browse.rooms.map((info) => info.room);
const publicRoom = (room) => roomInfo(room, { member: false });

/** Ask the next page, answer it with `page` (`more` as given), and return the list. */
function answer(browse, page, more) {
  const { browse: waiting, request } = nextPage(browse);
  assert.ok(request, "a page is due");
  return pageLoaded(waiting, request, { op: "ok", rooms: page, more });
}

test("a search is what was typed, lower-cased; text no room name holds asks nothing", () => {
  assert.equal(searchFor(""), "");
  assert.equal(searchFor("  "), "");
  assert.equal(searchFor(" Dev-Ops_2 "), "dev-ops_2");
  assert.equal(searchFor("two words"), null);
  assert.equal(searchFor("%"), null);
  assert.equal(searchFor("x".repeat(65)), null);
  assert.equal(searchFor("\u212aelvin"), null); // the Kelvin sign lower-cases to an ASCII k
});

test("the list asks page after page from the last name, until there is no more", () => {
  let browse = startBrowse();
  const first = nextPage(browse);
  assert.deepEqual(first.request, { op: "rooms" });
  assert.equal(nextPage(first.browse).request, null); // one page on its way at a time
  browse = pageLoaded(first.browse, first.request,
    { op: "ok", rooms: [publicRoom("alpha"), roomInfo("beta")], more: true });
  assert.deepEqual(names(browse), ["alpha", "beta"]);
  const second = nextPage(browse);
  assert.deepEqual(second.request, { op: "rooms", after: "beta" });
  browse = pageLoaded(second.browse, second.request, { op: "ok", rooms: [publicRoom("gamma")],
    more: false });
  assert.deepEqual(names(browse), ["alpha", "beta", "gamma"]);
  assert.equal(browse.rooms[1].member, true);
  assert.equal(nextPage(browse).request, null);
});

test("the cursor is a page's last name even when the list leaves it out", () => {
  // A page ending with one of the user's conversations: the next one starts after it.
  let browse = answer(startBrowse(), [publicRoom("9lives"), roomInfo("@ann:bob")], true);
  assert.deepEqual(names(browse), ["9lives"]);
  assert.deepEqual(nextPage(browse).request, { op: "rooms", after: "@ann:bob" });
  // A page of conversations only: nothing shown, and still more to ask.
  browse = answer(startBrowse(), [roomInfo("@ann:bob")], true);
  assert.deepEqual(names(browse), []);
  assert.equal(browse.more, true);
});

test("a search asks its own pages; a reply to an older search or page is dropped", () => {
  const old = nextPage(startBrowse());
  const search = nextPage(startBrowse("des"));
  assert.deepEqual(search.request, { op: "rooms", query: "des" });
  const stale = pageLoaded(search.browse, old.request,
    { op: "ok", rooms: [publicRoom("alpha")], more: true });
  assert.equal(stale, search.browse);
  assert.equal(pageFailed(search.browse, old.request, "nope"), search.browse);
  let browse = pageLoaded(search.browse, search.request,
    { op: "ok", rooms: [publicRoom("design"), publicRoom("redesign")], more: true });
  assert.deepEqual(nextPage(browse).request, { op: "rooms", query: "des", after: "redesign" });
  // the same reply twice (or a page that does not move on) adds nothing and ends the list
  const again = nextPage(browse);
  browse = pageLoaded(again.browse, again.request, { op: "ok", rooms: [], more: true });
  assert.deepEqual(names(browse), ["design", "redesign"]);
  assert.equal(browse.more, false);
});

test("a refused page says why and may be asked again", () => {
  const { browse, request } = nextPage(startBrowse());
  const failed = pageFailed(browse, request, "Not connected right now.");
  assert.equal(failed.error, "Not connected right now.");
  assert.equal(failed.loading, false);
  assert.deepEqual(nextPage(failed).request, { op: "rooms" });
});

test("a reply without more (an older server) ends the list after its page", () => {
  const browse = answer(startBrowse(), [publicRoom("a"), publicRoom("b")], undefined);
  assert.deepEqual(names(browse), ["a", "b"]);
  assert.equal(nextPage(browse).request, null);
});

test("the refresh of one's rooms asks only theirs, and follows the pages to the last", () => {
  const { state } = connected([roomInfo("alpha"), roomInfo("zeta")]);
  assert.deepEqual(ROOMS_REFRESH, { op: "rooms", joined: true });
  let effects = apply(state, { op: "ok", rooms: [roomInfo("alpha", { topic: "A" })], more: true },
    { request: ROOMS_REFRESH });
  assert.equal(state.rooms.get("alpha").topic, "A");
  assert.deepEqual(requests(effects), [{ op: "rooms", joined: true, after: "alpha" }]);
  const [next] = requests(effects);
  effects = apply(state, { op: "ok", rooms: [roomInfo("zeta", { topic: "Z" })], more: false },
    { request: next });
  assert.equal(state.rooms.get("zeta").topic, "Z");
  assert.deepEqual(effects, []);
  // The dialog's pages of public rooms never chain: the dialog asks them itself.
  effects = apply(state, { op: "ok", rooms: [publicRoom("beta")], more: true },
    { request: { op: "rooms" } });
  assert.deepEqual(effects, []);
  assert.equal(state.rooms.has("beta"), false);
});
