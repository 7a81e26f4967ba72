// The "Invite people" dialog's list ends as the server has it whatever the order its requests
// are taken and answered in: a model server keeps one person's invitations and takes, each at
// a moment of its own after it was sent, the page's creates, revokes and asks for the list
// (the three run side by side over HTTP), a page at a time ("Show more"); their answers reach
// the page in any order. Once nothing is on its way and every page is asked, the page lists
// what the server holds, each in its state.
//
// No dependency: the seeded generator of fixtures.mjs makes the same cases on every run (the
// seed of a failing case is in the failure message).

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  emptyLinks, linkChanged, linksAsked, linksLoaded, linksMoreAsked, linksMoreLoaded, revocable,
} from "../../clients/web/invites.js";
import { generator } from "./fixtures.mjs";

const ROUNDS = 300;
const PAGE = 3; // invitations a page (the server's default is 100)
const NOW = 1_000_000;

/** One person's invitations on the server, as docs/protocol.md tells them. */
class ModelServer {
  constructor() {
    this.items = new Map(); // id -> invitation object
    this.next = 1;
  }

  create() {
    const item = { id: this.next, by: "ann", created_at: NOW, expires_at: NOW + 1000,
      max_uses: 1, uses: 0, revoked_at: null, state: "valid", rooms: [], used_by: [] };
    this.next += 1;
    this.items.set(item.id, item);
    return { invitation: structuredClone(item), token: "t".repeat(32), url: "" };
  }

  revoke(id) {
    const item = this.items.get(id);
    if (item.state === "valid") Object.assign(item, { state: "revoked", revoked_at: NOW });
    return { invitation: structuredClone(item) };
  }

  /** A page, newest first, as `GET /api/invitations?limit=&before=` answers. */
  list(before = null, limit = PAGE) {
    const older = [...this.items.values()].reverse()
      .filter((item) => before === null || item.id < before);
    return { invitations: older.slice(0, limit).map((item) => structuredClone(item)),
      more: older.length > limit };
  }
}

test("the list ends as the server has it, whatever order requests are taken and answered in",
  () => {
    for (let seed = 1; seed <= ROUNDS; seed += 1) {
      const random = generator(seed);
      const server = new ModelServer();
      const list = emptyLinks();
      const sent = []; // requests the server has not taken yet
      const answered = []; // answers on their way to the page
      const ask = () => sent.push({ kind: "list", serial: linksAsked(list) });
      const more = () => {
        const asked = linksMoreAsked(list);
        if (asked) sent.push({ kind: "more", ...asked });
      };
      ask(); // the dialog asks as it opens
      const take = (request) => {
        if (request.kind === "create") answered.push({ ...request, body: server.create() });
        else if (request.kind === "revoke") {
          answered.push({ ...request, body: server.revoke(request.id) });
        } else answered.push({ ...request, body: server.list(request.before ?? null) });
      };
      const deliver = ({ kind, serial, body }) => {
        if (kind === "list") linksLoaded(list, serial, body);
        else if (kind === "more") linksMoreLoaded(list, serial, body);
        else linkChanged(list, body.invitation);
      };
      const settle = () => {
        while (sent.length) take(sent.splice(random(sent.length), 1)[0]);
        while (answered.length) deliver(answered.splice(random(answered.length), 1)[0]);
      };
      const steps = 4 + random(30);
      for (let step = 0; step < steps; step += 1) {
        const choice = random(6);
        if (choice === 0) sent.push({ kind: "create" });
        else if (choice === 1) {
          const shown = list.items.filter((item) => revocable(item, NOW));
          if (shown.length) sent.push({ kind: "revoke", id: random.pick(shown).id });
        } else if (choice === 2) ask();
        else if (choice === 3 && sent.length) take(sent.splice(random(sent.length), 1)[0]);
        else if (choice === 4) more();
        else if (answered.length) deliver(answered.splice(random(answered.length), 1)[0]);
      }
      settle();
      // "Show more" until the list is whole (each page once the last came).
      for (let pages = 0; list.more; pages += 1) {
        assert.ok(pages <= server.items.size, `seed ${seed}: the pages end`);
        more();
        settle();
      }
      const expected = server.list(null, Infinity).invitations
        .map((item) => [item.id, item.state]);
      assert.deepEqual(list.items.map((item) => [item.id, item.state]), expected,
        `seed ${seed}`);
      assert.equal(list.loading, false, `seed ${seed}: the last ask was answered`);
    }
  });
