// Link previews on the page: `preview` entries (made or removed) change the message they name
// once each, in seq order like the other changes; message objects carry them from history and
// resume; what is malformed is not drawn; "Remove preview" is a request of its own, offered to
// the author and to whoever moderates the room.

import assert from "node:assert/strict";
import { test } from "node:test";

import { applyChange, previewFor, previewOf } from "../../clients/web/entries.js";
import { shownMessage, signature } from "../../clients/web/select-messages.js";
import { apply, removePreview } from "../../clients/web/state.js";
import { connected, message, receiveAll, requests, roomInfo } from "./fixtures.mjs";

const card = { url: "https://forge.example/pr/12", title: "Fix the flaky test",
  description: "A pull request", site: "Forge",
  image: { id: 77, thumbnail_url: "/api/thumbnails/77", width: 400, height: 210 } };
const preview = (room, seq, msgSeq, fields = card) => ({ op: "preview", room, seq,
  msg_id: 1000 + msgSeq, ts: 2_000_000 + seq, ...fields });
const removed = (room, seq, msgSeq) => ({ op: "preview", room, seq, msg_id: 1000 + msgSeq,
  ts: 2_000_000 + seq, removed: true });
const held = (state, room, seq) => state.rooms.get(room).messages.get(seq);
const shown = (state, room, seq) => shownMessage(state, state.rooms.get(room),
  held(state, room, seq));
const drawn = { url: card.url, title: card.title, description: card.description,
  site: card.site, image: { id: 77, width: 400, height: 210 } };

test("a preview entry shows on its message once; a removal takes it away", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 0 })]);
  receiveAll(state, [message("general", 1, "Bob", `see ${card.url}`), preview("general", 2, 1)]);
  assert.deepEqual(shown(state, "general", 1).preview, drawn);
  assert.equal(held(state, "general", 1).rev, 2);
  // The resume point goes past it: it is an entry of the log.
  assert.equal(state.rooms.get("general").head, 2);
  const before = signature(shown(state, "general", 1));
  receiveAll(state, [removed("general", 3, 1), preview("general", 2, 1)]); // the old one, again
  assert.equal(shown(state, "general", 1).preview, null);
  assert.equal(held(state, "general", 1).previews, undefined);
  assert.notEqual(signature(shown(state, "general", 1)), before);
});

test("a message object read from history or on resume brings its preview", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 0 })]);
  receiveAll(state, [message("general", 1, "Bob", card.url, { rev: 2, previews: [card] })]);
  assert.deepEqual(shown(state, "general", 1).preview, drawn);
  // An older reading (before the preview) does not take it away.
  receiveAll(state, [message("general", 1, "Bob", card.url)]);
  assert.deepEqual(shown(state, "general", 1).preview, drawn);
});

test("a deleted message shows no preview, whatever came before or after", () => {
  const gone = applyChange({ ...message("general", 1), previews: [card] },
    { op: "deleted", room: "general", seq: 2, msg_id: 1001, by: "Bob", ts: 1 });
  assert.equal(gone.previews, undefined);
  assert.equal(applyChange(gone, removed("general", 3, 1)).previews, undefined);
  assert.equal(previewFor({ ...message("general", 1), deleted: true, previews: [card] }), null);
});

test("what cannot be drawn safely is not drawn", () => {
  assert.equal(previewOf({ ...card, url: "javascript:alert(1)" }), null);
  assert.equal(previewOf({ ...card, title: "  " }), null);
  assert.equal(previewOf({ ...card, title: 7 }), null);
  assert.deepEqual(previewOf({ ...card, image: { id: "77", width: 1, height: 1 } }),
    { ...drawn, image: null });
  assert.deepEqual(previewOf({ url: card.url, title: "T" }),
    { url: card.url, title: "T", description: "", site: "", image: null });
});

test("Remove preview: a request, offered to the author and to the room's moderators", () => {
  const { state } = connected([roomInfo("general", { lastSeq: 0, owner: "carol" })]);
  receiveAll(state, [message("general", 1, "ann", card.url, { rev: 2, previews: [card] }),
    message("general", 3, "Bob", card.url, { rev: 4, previews: [card] })]);
  assert.equal(shown(state, "general", 1).canRemovePreview, true);
  assert.equal(shown(state, "general", 3).canRemovePreview, false);
  assert.deepEqual(requests(removePreview(state, "general", 1001)),
    [{ op: "remove_preview", room: "general", msg_id: 1001 }]);
  assert.deepEqual(removePreview(state, "nowhere", 1001), []);
  const owner = connected([roomInfo("general", { lastSeq: 0, owner: "ann" })]).state;
  receiveAll(owner, [message("general", 1, "Bob", card.url, { rev: 2, previews: [card] })]);
  assert.equal(shown(owner, "general", 1).canRemovePreview, true);
  // Refused: a word of why.
  const effects = apply(state, { op: "error", id: 9, code: "forbidden", message: "not yours" },
    { request: { op: "remove_preview", room: "general", msg_id: 1003 } });
  assert.deepEqual(effects, [{ toast: "Cannot remove the preview: not yours" }]);
});
