// Join links to one room (roomlinks.js): the token read from the address, the link to give,
// the request of the dialog's choices, the list kept after a make and a revoke (a property
// test: any order of replies gives the list the last replies say), each link's line as time
// passes, and what the join screen says of an answer.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  DEFAULT_EXPIRY, DEFAULT_USES, EXPIRIES, joinFromHash, joinScreen, linkLine, linkObject, linkOf,
  linkRequest, linksOf, refusal, revocable, untilWords, USES, withLink,
} from "../../clients/web/roomlinks.js";
import { generator } from "./fixtures.mjs";

const TOKEN = "k3J9dWq2x7Yb0Zr5Tn8Lp1Vc4Hs6Mg2A";
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = 1_767_225_600_000;

function link(id, fields = {}) {
  return { id, room: "staff", by: "ann", created_at: NOW - DAY, expires_at: NOW + 7 * DAY,
    max_uses: 5, uses: 0, revoked_at: null, state: "valid", ...fields };
}

test("the token of a #join= address, and nothing from any other", () => {
  assert.equal(joinFromHash(`#join=${TOKEN}`), TOKEN);
  assert.equal(joinFromHash(`#join=${TOKEN}&x=1`), TOKEN);
  for (const hash of ["", "#invite=" + TOKEN, "#join=", "#join=short", `#join=${"a".repeat(129)}`,
    `#join=${TOKEN.slice(0, 10)}%2F${TOKEN.slice(10)}`, undefined, null]) {
    assert.equal(joinFromHash(hash), null, String(hash));
  }
});

test("the link to give: the server's url, else the page's address with #join=", () => {
  assert.equal(linkOf({ token: TOKEN, url: `https://chat.example.org/#join=${TOKEN}` },
    "http://127.0.0.1:8080/#room=staff"), `https://chat.example.org/#join=${TOKEN}`);
  const built = linkOf({ token: TOKEN }, "http://127.0.0.1:8080/app/?x=1#room=staff");
  assert.equal(built, `http://127.0.0.1:8080/app/?x=1#join=${TOKEN}`);
  assert.equal(joinFromHash(new URL(built).hash), TOKEN, "read back as its token");
});

test("the dialog's choices make the request; the defaults are the server's", () => {
  assert.deepEqual(linkRequest("staff"), { room: "staff", uses: 1, expires_in: 604800 });
  assert.deepEqual(linkRequest("staff", { uses: "25", expiresIn: "3600" }),
    { room: "staff", uses: 25, expires_in: 3600 });
  assert.ok(USES.some((u) => u.value === DEFAULT_USES));
  assert.ok(EXPIRIES.some((e) => e.value === DEFAULT_EXPIRY));
  for (const { value } of USES) assert.ok(value >= 1 && value <= 1000);
  for (const { value } of EXPIRIES) assert.ok(value >= 60 && value <= 30 * 86400);
});

test("each link's line: uses, and until when it works", () => {
  assert.equal(linkLine(link(1, { uses: 1 }), NOW), "1 of 5 used · expires in 7 days");
  assert.equal(linkLine(link(1, { expires_at: NOW + 5 * HOUR }), NOW),
    "0 of 5 used · expires in 5 hours");
  assert.equal(linkLine(link(1, { expires_at: NOW + 90_000 }), NOW),
    "0 of 5 used · expires in 2 min");
  assert.equal(linkLine(link(1, { expires_at: NOW - 1 }), NOW), "0 of 5 used · expired",
    "past its time before the server says so");
  assert.equal(linkLine(link(1, { state: "revoked" }), NOW), "0 of 5 used · revoked");
  assert.equal(linkLine(link(1, { state: "used_up", uses: 5 }), NOW), "5 of 5 used · used up");
  assert.equal(untilWords(NOW - 5, NOW), "now");
  assert.ok(revocable(link(1), NOW));
  assert.ok(!revocable(link(1, { state: "revoked" }), NOW));
  assert.ok(!revocable(link(1, { expires_at: NOW }), NOW));
});

test("a reply's links are checked and kept newest first", () => {
  assert.deepEqual(linksOf({ links: [link(2), { id: "x" }, null, link(5)] }).map((l) => l.id),
    [5, 2]);
  assert.deepEqual(linksOf(null), []);
  assert.equal(linkObject({ id: 3, state: "odd" }).state, "valid");
});

test("property: the list after any replies holds each id once, as its last reply says", () => {
  const random = generator(7);
  for (let round = 0; round < 300; round += 1) {
    let links = [];
    const last = new Map();
    for (let step = 0; step < 12; step += 1) {
      const id = 1 + random(6);
      const state = random.pick(["valid", "revoked", "used_up"]);
      const reply = linkObject(link(id, { state, uses: step }));
      links = withLink(links, reply);
      last.set(id, reply);
    }
    assert.deepEqual(links.map((l) => l.id), [...last.keys()].sort((a, b) => b - a));
    for (const shown of links) assert.deepEqual(shown, last.get(shown.id));
  }
});

test("the join screen: the room and a Join button, Open for a member, why not otherwise", () => {
  const answer = { valid: true, room: "staff", topic: "the staff room", private: true,
    members: 4, member: false, by: "ann", expires_at: NOW + DAY };
  assert.deepEqual(joinScreen(answer), { title: "Join #staff", join: "Join",
    lines: ["the staff room", "A private room with 4 members.", "ann invites you."] });
  assert.equal(joinScreen({ ...answer, member: true }).join, "Open");
  assert.deepEqual(joinScreen({ ...answer, topic: "", members: 1, by: null, private: false }).lines,
    ["A public room with 1 member."]);
  const expired = joinScreen({ valid: false, code: "invitation_expired", message: "x" });
  assert.equal(expired.join, null);
  assert.match(expired.lines[0], /expired/);
  for (const code of ["invitation_used_up", "invitation_revoked", "invitation_invalid",
    "forbidden", "archived", "not_found", "rate_limited", "unknown_op"]) {
    assert.notEqual(refusal({ code }), refusal({ code: "other" }), code);
  }
  assert.equal(refusal({ code: "other", message: "odd" }), "The link could not be used: odd");
});
