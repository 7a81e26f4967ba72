// Invitation links (invites.js): the link read from and built into the address, what the
// sign-up page says of an invitation and of the server's mode, what it sends and which room
// opens after, who gets "Invite people…", a new link's request, and the list of links kept
// after a create and a revoke, with how each reads as time passes.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  actionRefusal, createBody, emptyLinks, expiryText, firstInvitedRoom, invitableRooms,
  invitationNotice, invitationToSend, inviteFromHash, inviteUrl, linkChanged, linkOf,
  linksAsked, linksFailed, linksLoaded, linksMoreAsked, linksMoreLoaded, linkState, linkTitle,
  mayInvite, parseInviteRights,
  parseLook, parseRegistration, refusalText, registerProblem, revocable, roomsText, usesText,
} from "../../clients/web/invites.js";

const TOKEN = "k3J9dWq2x7Yb0Zr5Tn8Lp1Vc4Hs6Mg2A";
const DAY = 86_400_000;
const NOW = 1_767_225_600_000;

/** An invitation object as the server lists it. */
function invitation(id, fields = {}) {
  return { id, by: "root", created_at: NOW - DAY, expires_at: NOW + 7 * DAY, max_uses: 1,
    uses: 0, revoked_at: null, state: "valid", rooms: ["general"], used_by: [], ...fields };
}

test("the token of an #invite= address, and nothing from any other", () => {
  assert.equal(inviteFromHash(`#invite=${TOKEN}`), TOKEN);
  assert.equal(inviteFromHash(`#invite=${TOKEN}&later=1`), TOKEN, "later parts are left alone");
  assert.equal(inviteFromHash("#room=general"), null);
  assert.equal(inviteFromHash(""), null);
  assert.equal(inviteFromHash(undefined), null);
  assert.equal(inviteFromHash("#invite="), null);
  assert.equal(inviteFromHash("#invite=short"), null, "fewer than 16 characters");
  assert.equal(inviteFromHash(`#invite=${"a".repeat(129)}`), null, "more than 128");
  assert.equal(inviteFromHash(`#invite=${TOKEN.slice(0, 20)}%2F${TOKEN.slice(20)}`), null,
    "not base64url");
});

test("a link built on the page's address is read back as its token", () => {
  const link = inviteUrl("https://chat.example.org/app/?x=1#room=general", TOKEN);
  assert.equal(link, `https://chat.example.org/app/?x=1#invite=${TOKEN}`);
  assert.equal(inviteFromHash(new URL(link).hash), TOKEN);
  assert.equal(linkOf({ url: `https://chat.example.org/#invite=${TOKEN}`, token: TOKEN },
    "http://127.0.0.1:8080/"), `https://chat.example.org/#invite=${TOKEN}`,
  "the server's url first: it knows the public address");
  assert.equal(linkOf({ token: TOKEN }, "http://127.0.0.1:8080/"),
    `http://127.0.0.1:8080/#invite=${TOKEN}`, "an answer without a url: the page's own");
  assert.equal(linkOf({}, "http://127.0.0.1:8080/"), null);
});

test("the server's mode: an older server that does not answer is open", () => {
  assert.deepEqual(parseRegistration({ registration: "invite", server: "Acme" }),
    { registration: "invite", server: "Acme" });
  assert.deepEqual(parseRegistration({}), { registration: "open", server: null });
  assert.deepEqual(parseRegistration({ registration: "whatever", server: "" }),
    { registration: "open", server: null });
});

test("a working invitation says who invited, to where and into which rooms", () => {
  const look = parseLook({ registration: "invite", server: "Acme", valid: true, by: "ann",
    rooms: ["general", "random"], expires_at: NOW + DAY });
  assert.deepEqual(look, { registration: "invite", server: "Acme", valid: true, by: "ann",
    rooms: ["general", "random"], expiresAt: NOW + DAY });
  assert.deepEqual(invitationNotice(look), { title: "Join Acme", problem: false,
    lines: ["ann invited you to Acme.", "Create your account to join #general and #random."] });
  const plain = parseLook({ registration: "open", server: null, valid: true, by: null,
    rooms: [], expires_at: NOW + DAY });
  assert.deepEqual(invitationNotice(plain), { title: "Join chatd", problem: false,
    lines: ["You are invited to chatd.", "Create your account to join."] });
  assert.equal(invitationNotice(null).lines[0], "Looking at it…");
  assert.equal(invitationNotice(null, { failed: true }).problem, true);
});

test("a link that does not work says why, for each refusal", () => {
  const cases = {
    invitation_expired: /has expired/,
    invitation_used_up: /used as many times as it allows/,
    invitation_revoked: /was revoked/,
    invitation_invalid: /is not valid/,
    registration_closed: /takes no new accounts/,
  };
  for (const [code, words] of Object.entries(cases)) {
    const look = parseLook({ registration: "invite", server: "Acme", valid: false, code,
      message: "…" });
    assert.equal(look.valid, false);
    const notice = invitationNotice(look);
    assert.equal(notice.problem, true, code);
    assert.match(notice.lines[0], words, code);
    assert.equal(notice.lines.length, 1, "by invitation only: no way around it");
  }
  const open = invitationNotice(parseLook({ registration: "open", valid: false,
    code: "invitation_expired" }));
  assert.match(open.lines[1], /still create an account here, without joining its rooms/);
  assert.equal(parseLook({ valid: false }).code, "invitation_invalid", "no code: not valid");
  assert.equal(refusalText("conflict"), null, "other codes are the caller's");
});

test("the form says what stops a registration before it is sent, and what it sends", () => {
  const valid = parseLook({ registration: "invite", valid: true, by: "ann", rooms: [] });
  const expired = parseLook({ registration: "invite", valid: false, code: "invitation_expired" });
  assert.match(registerProblem("invite", null, null), /by invitation only/);
  assert.equal(registerProblem("invite", null, TOKEN), null, "being looked at: may register");
  assert.equal(registerProblem("invite", valid, TOKEN), null);
  assert.match(registerProblem("invite", expired, TOKEN), /has expired/);
  assert.match(registerProblem("closed", null, null), /takes no new accounts/);
  assert.match(registerProblem("closed", valid, TOKEN), /takes no new accounts/);
  assert.equal(registerProblem("open", null, null), null);
  assert.equal(registerProblem(null, null, null), null, "not known yet: the server decides");
  const openExpired = { ...expired, registration: "open" };
  assert.equal(registerProblem("open", openExpired, TOKEN), null,
    "open: an account without the link");
  assert.equal(invitationToSend("open", openExpired, TOKEN), null, "…and without its token");
  assert.equal(invitationToSend("invite", valid, TOKEN), TOKEN);
  assert.equal(invitationToSend("invite", null, TOKEN), TOKEN, "not looked at yet: sent");
  assert.equal(invitationToSend("open", null, null), null);
});

test("after registering, the first of the invited rooms that the account joined opens", () => {
  const look = parseLook({ valid: true, by: "ann", rooms: ["random", "general"] });
  assert.equal(firstInvitedRoom(look, ["general", "random"]), "random",
    "the maker's order, not the answer's");
  assert.equal(firstInvitedRoom(look, ["general"]), "general", "random was deleted since");
  assert.equal(firstInvitedRoom(null, ["general"]), "general");
  assert.equal(firstInvitedRoom(look, []), null);
  assert.equal(firstInvitedRoom(look, undefined), null, "an answer without rooms");
});

test("\"Invite people…\": administrators, and members where the server lets everyone", () => {
  const admins = parseInviteRights({ registration: "invite", server: null });
  const everyone = parseInviteRights({ registration: "open", who_can_invite: "everyone" });
  const closed = parseInviteRights({ registration: "closed", who_can_invite: "everyone" });
  assert.equal(admins.whoCanInvite, "admins", "a server that does not say: administrators");
  assert.equal(mayInvite(true, admins), true);
  assert.equal(mayInvite(false, admins), false);
  assert.equal(mayInvite(false, everyone), true);
  assert.equal(mayInvite(true, closed), false, "no registration could use a link");
  assert.equal(mayInvite(true, null), true, "not known yet: an administrator still may");
  assert.equal(mayInvite(false, null), false);
});

test("a new link's request: the choices as the server takes them", () => {
  assert.deepEqual(createBody({ expiry: "1d", uses: "5", rooms: ["general", "general", "x"] }),
    { body: { uses: 5, expires_in: 86_400, rooms: ["general", "x"] } });
  assert.deepEqual(createBody({}), { body: { uses: 1, expires_in: 7 * 86_400, rooms: [] } },
    "the defaults: one person, seven days");
  assert.match(createBody({ expiry: "1y" }).problem, /how long/);
  const many = Array.from({ length: 21 }, (_, i) => `r${i}`);
  assert.match(createBody({ rooms: many }).problem, /at most 20 rooms/);
  const rooms = [{ name: "zoo", kind: "room" }, { name: "@ann:bob", kind: "dm" },
    { name: "general", kind: "room" }, { name: "old", kind: "room", archived: true },
    { name: "@ann:bob:carol", kind: "group" }, { name: "new", kind: "room", draft: true }];
  assert.deepEqual(invitableRooms(rooms), ["general", "zoo"],
    "rooms only, not archived, sorted");
});

test("the list: newest first, a later answer wins, a create and a revoke keep it", () => {
  const list = emptyLinks();
  const first = linksAsked(list);
  const second = linksAsked(list);
  assert.equal(linksLoaded(list, first, { invitations: [invitation(1)] }), false,
    "an older answer is dropped");
  assert.equal(list.loading, true);
  linksLoaded(list, second, { invitations: [invitation(2), invitation(5), { id: "x" }, null] });
  assert.deepEqual(list.items.map((item) => item.id), [5, 2], "malformed ones left out");
  assert.equal(list.loaded, true);
  linkChanged(list, invitation(7, { rooms: ["random"] }));
  assert.deepEqual(list.items.map((item) => item.id), [7, 5, 2], "a new link comes first");
  linkChanged(list, invitation(5, { state: "revoked", revoked_at: NOW }));
  assert.deepEqual(list.items.map((item) => [item.id, item.state]),
    [[7, "valid"], [5, "revoked"], [2, "valid"]], "a revoked one stays, in its place");
  assert.equal(linkChanged(list, { nothing: true }), false);
  assert.equal(list.items.length, 3);
  const failing = emptyLinks();
  const asked = linksAsked(failing);
  assert.equal(linksFailed(failing, asked, "refused"), true);
  assert.deepEqual([failing.loading, failing.error], [false, "refused"]);
  assert.equal(linksFailed(failing, asked - 1, "old"), false);
});

test("the list pages: \"Show more\" asks before the oldest id the server gave, one page at a time", () => {
  const list = emptyLinks();
  assert.equal(linksMoreAsked(list), null, "nothing before the first page");
  const serial = linksAsked(list);
  linksLoaded(list, serial, { invitations: [invitation(9), invitation(8)], more: true });
  assert.equal(list.more, true);
  // A link made meanwhile (newer) and one revoked (on a later page) do not move where the
  // next page starts.
  linkChanged(list, invitation(10));
  linkChanged(list, invitation(3, { state: "revoked", revoked_at: NOW }));
  const asked = linksMoreAsked(list);
  assert.deepEqual(asked, { serial, before: 8 });
  assert.equal(list.paging, true);
  assert.equal(linksMoreAsked(list), null, "one page at a time");
  linksMoreLoaded(list, asked.serial, { invitations: [invitation(5), invitation(3), invitation(2)],
    more: true });
  assert.deepEqual(list.items.map((item) => [item.id, item.state]), [[10, "valid"],
    [9, "valid"], [8, "valid"], [5, "valid"], [3, "revoked"], [2, "valid"]],
  "a revoke answered before its page came is kept");
  assert.equal(list.paging, false);
  const last = linksMoreAsked(list);
  assert.equal(last.before, 2);
  linksMoreLoaded(list, last.serial, { invitations: [invitation(1)], more: false });
  assert.equal(list.more, false);
  assert.equal(linksMoreAsked(list), null, "the list is whole");
  assert.deepEqual(list.items.map((item) => item.id), [10, 9, 8, 5, 3, 2, 1]);
});

test("a next page for a list asked again since is dropped; a failed one can be asked again", () => {
  const list = emptyLinks();
  linksLoaded(list, linksAsked(list), { invitations: [invitation(9)], more: true });
  const asked = linksMoreAsked(list);
  const again = linksAsked(list);
  assert.equal(linksMoreLoaded(list, asked.serial, { invitations: [invitation(4)], more: false }),
    false);
  linksLoaded(list, again, { invitations: [invitation(9)], more: true });
  assert.deepEqual(list.items.map((item) => item.id), [9]);
  assert.equal(list.more, true);
  const next = linksMoreAsked(list);
  assert.equal(linksFailed(list, next.serial, "refused"), true);
  assert.deepEqual([list.paging, list.error, list.more], [false, "refused", true]);
  assert.deepEqual(linksMoreAsked(list), { serial: again, before: 9 }, "asked again");
  // An older server (no `more`) gives one page: nothing more to ask.
  const older = emptyLinks();
  linksLoaded(older, linksAsked(older), { invitations: [invitation(1)] });
  assert.equal(linksMoreAsked(older), null);
  // A page that says more but holds nothing gives nowhere to go on from.
  const empty = emptyLinks();
  linksLoaded(empty, linksAsked(empty), { invitations: [], more: true });
  assert.equal(empty.more, false);
});

test("how a link reads as time passes: its expiry, its uses, who made it", () => {
  const list = emptyLinks();
  linkChanged(list, invitation(1, { max_uses: 5, uses: 2, used_by: ["bob", "carol"] }));
  const [item] = list.items;
  assert.equal(expiryText(item, NOW), "expires in 7 days");
  assert.equal(expiryText(item, NOW + 7 * DAY - 3 * 3600_000), "expires in 3 h");
  assert.equal(expiryText(item, NOW + 7 * DAY - 600_000), "expires in 10 min");
  assert.equal(linkState(item, NOW + 7 * DAY), "expired", "its time passed while listed");
  assert.equal(expiryText(item, NOW + 7 * DAY), "expired");
  assert.equal(revocable(item, NOW), true);
  assert.equal(revocable(item, NOW + 7 * DAY), false);
  assert.equal(usesText(item), "used 2 of 5 times: bob, carol");
  const fresh = { ...item, uses: 0, usedBy: [], maxUses: 1 };
  assert.equal(usesText(fresh), "not used yet (1 person)");
  assert.equal(usesText({ ...fresh, maxUses: 10 }), "not used yet (up to 10 people)");
  assert.equal(expiryText({ ...item, state: "revoked" }, NOW), "revoked");
  assert.equal(expiryText({ ...item, state: "used_up" }, NOW), "used up");
  assert.equal(linkTitle(item, "Root"), "#general", "one's own: no maker named");
  assert.equal(linkTitle(item, "ann"), "#general · by root", "an admin's list names makers");
  assert.equal(linkTitle({ ...item, by: null, rooms: [] }, "ann"),
    "No rooms · from the command line");
  assert.equal(roomsText(["a", "b", "c"]), "#a, #b and #c");
});

test("a refused create or revoke reads as a sentence", () => {
  assert.match(actionRefusal({ code: "rate_limited" }), /Too many new links/);
  assert.match(actionRefusal({ code: "registration_closed" }), /takes no new accounts/);
  assert.match(actionRefusal({ code: "forbidden", message: "only administrators" }),
    /refused: only administrators/);
  assert.equal(actionRefusal({ code: "not_found", message: "no such room" }), "no such room");
  assert.equal(actionRefusal(null), "The server did not answer.");
});
