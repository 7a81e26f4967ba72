// Signed links to files (links.js and its reducers in state.js): asked for in batches for what
// is drawn, once each, kept in a small cache, renewed before they expire, retried after a
// failure.

import assert from "node:assert/strict";
import { test } from "node:test";

import * as links from "../../clients/web/links.js";
import {
  actions, linkBroken, linksFailed, linksReceived, renewLinks, wantLinks,
} from "../../clients/web/state.js";
import { connected, roomInfo } from "./fixtures.mjs";

const HOUR = 3600_000;
const T = 1_700_000_000_000; // a time (ms) the tests start at
const link = (id, expiresAt) => ({ id, url: `/api/files/${id}/f?exp=${expiresAt}&sig=s`,
  thumbnail_url: `/api/thumbnails/${id}?exp=${expiresAt}&sig=s`, expires_at: expiresAt });
const fetched = (effects) => effects.filter((e) => e.fetchLinks).map((e) => e.fetchLinks);
const timers = (effects) => effects.filter((e) => e.later !== undefined);

test("the links of what is drawn are asked for once, in batches of at most 100", () => {
  const cache = links.emptyLinks();
  const ids = Array.from({ length: 250 }, (_, n) => n + 1);
  const asked = links.want(cache, ids, T);
  assert.deepEqual(asked, ids);
  assert.deepEqual(links.batches(asked).map((batch) => batch.length), [100, 100, 50]);
  assert.deepEqual(links.want(cache, ids, T + 1), [], "on their way already");
  assert.deepEqual(links.want(cache, ["7", 1.5, null], T + 1), [], "not ids");
});

test("a link is used until just before it expires, then renewed ahead of that", () => {
  const cache = links.emptyLinks();
  links.want(cache, [1], T);
  links.received(cache, [1], [link(1, T + HOUR)], T);
  assert.equal(links.linkFor(cache, 1, T).url, `/api/files/1/f?exp=${T + HOUR}&sig=s`);
  assert.equal(links.linkFor(cache, 1, T + HOUR - links.SLACK_MS), null);
  assert.equal(links.linkFor(cache, 2, T), null);
  const renew = T + HOUR - links.RENEW_MS;
  assert.equal(links.nextDue(cache), renew);
  assert.deepEqual(links.want(cache, [1], T + 10), [], "fresh");
  assert.deepEqual(links.due(cache, renew - 1), []);
  assert.deepEqual(links.due(cache, renew), [1]);
  assert.equal(links.nextDue(cache), null, "asked: on its way");
  // Meanwhile the old link still works.
  assert.ok(links.linkFor(cache, 1, renew));
});

test("a short-lived link is renewed a fifth of its life before it expires", () => {
  const cache = links.emptyLinks();
  links.want(cache, [1], T);
  links.received(cache, [1], [link(1, T + 100_000)], T);
  assert.equal(links.nextDue(cache), T + 80_000);
});

test("an expiry in seconds is read as seconds", () => {
  const cache = links.emptyLinks();
  links.want(cache, [1], T);
  links.received(cache, [1], [{ ...link(1, 0), expires_at: T / 1000 + 7200 }], T);
  assert.equal(links.linkFor(cache, 1, T).expires_at, T + 7_200_000);
});

test("an id left unanswered, or a failed request, is asked again after a while", () => {
  const cache = links.emptyLinks();
  links.want(cache, [1, 2, 3], T);
  links.received(cache, [1, 2], [link(1, T + HOUR)], T + 5);
  assert.deepEqual(links.want(cache, [2], T + 6), [], "refused just now");
  assert.equal(links.nextDue(cache), T + 5 + links.RETRY_MS);
  links.failed(cache, [3], T + 10);
  assert.deepEqual(links.want(cache, [3], T + 10), [], "failed just now");
  assert.deepEqual(links.due(cache, T + 5 + links.RETRY_MS), [2]);
  assert.deepEqual(links.due(cache, T + 10 + links.RETRY_MS), [3]);
});

test("the cache only moves its version when links come or go", () => {
  const cache = links.emptyLinks();
  links.want(cache, [1], T);
  assert.equal(cache.version, 0);
  links.received(cache, [1], [link(1, T + HOUR)], T);
  assert.equal(cache.version, 1);
  links.broken(cache, 1);
  assert.equal(cache.version, 2);
  assert.equal(links.linkFor(cache, 1, T), null);
  links.broken(cache, 1);
  assert.equal(cache.version, 2, "nothing to forget");
  assert.deepEqual(links.want(cache, [1], T + 1), [1]);
});

test("a file no longer drawn is not renewed, and leaves the cache once expired", () => {
  const cache = links.emptyLinks();
  links.want(cache, [1, 2], T);
  links.received(cache, [1, 2], [link(1, T + HOUR), link(2, T + HOUR)], T + 5);
  links.want(cache, [2], T + 6); // still drawn after the answer; 1 is not
  assert.deepEqual(links.due(cache, T + HOUR - links.RENEW_MS), [2]);
  links.want(cache, [3], T + HOUR + links.KEEP_MS);
  assert.equal(cache.entries.has(1), false);
});

test("the cache stays small: the files drawn longest ago leave first", () => {
  const cache = links.emptyLinks();
  const ids = Array.from({ length: links.MAX_ENTRIES + 20 }, (_, n) => n + 1);
  for (const id of ids) {
    links.want(cache, [id], T + id);
    links.received(cache, [id], [link(id, T + HOUR)], T + id);
  }
  links.want(cache, [9999], T + 10_000);
  assert.equal(cache.entries.size, links.MAX_ENTRIES);
  assert.equal(cache.entries.has(1), false);
  assert.equal(cache.entries.has(9999), true);
});

test("the state asks, keeps, renews and retries links through effects and one timer", () => {
  const { state } = connected([roomInfo("general")]);
  const first = wantLinks(state, [1, 2], T);
  assert.deepEqual(fetched(first), [[1, 2]]);
  assert.deepEqual(timers(first), [], "nothing to renew yet");
  const got = linksReceived(state, [1, 2], [link(1, T + HOUR), link(2, T + HOUR)], T);
  const renew = T + HOUR - links.RENEW_MS;
  assert.deepEqual(timers(got), [{ later: HOUR - links.RENEW_MS, key: `links@${renew}`,
    action: "renewLinks", args: [] }]);
  assert.equal(actions.renewLinks, renewLinks);
  assert.deepEqual(fetched(renewLinks(state, renew)), [[1, 2]]);
  assert.deepEqual(timers(linksFailed(state, [1, 2], renew)), [],
    "no file drawn since: nothing to retry");
  // The view draws them again (it wants what it draws whenever the cache changed).
  const again = wantLinks(state, [1, 2], renew);
  assert.deepEqual(fetched(again), []);
  assert.equal(timers(again)[0].later, links.RETRY_MS);
  assert.deepEqual(fetched(linkBroken(state, 1, renew + 1000)), [[1]]);
});

test("a timer is never set further out than a few hours", () => {
  const { state } = connected([roomInfo("general")]);
  wantLinks(state, [1], T);
  const effects = linksReceived(state, [1], [link(1, T + 365 * 24 * HOUR)], T);
  assert.ok(timers(effects)[0].later <= 6 * HOUR);
});
