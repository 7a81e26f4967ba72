"""``POST /api/dm`` (the socket's ``dm`` for bots and scripts, to one name or several: a group
conversation) and ``GET /api/rooms``'s kinds: statuses, JSON errors with the protocol's codes,
every answer checked against the OpenAPI document (the closed reading)."""

from __future__ import annotations

from typing import Any

from tests.http.test_scheduled import _conforms
from tests.http.test_uploads import Daemon


async def test_dm_to_several_and_the_rooms_listed(daemon: Daemon,
                                                  document: dict[str, Any]) -> None:
    """``to`` an array makes the group conversation (200, room/seq/msg_id/ts), the same
    nonce again answers the first message with ``duplicate``, ``to`` a name the 1:1;
    ``GET /api/rooms`` lists both with their kinds, ``peers`` and ``peer``; the history of
    the group conversation by its URL-encoded name."""
    ann = await daemon.user("ann")
    for name in ("Bob", "carol"):
        await daemon.user(name)
    made = await daemon.call("POST", "/api/dm", token=ann,
                             json_body={"to": ["CAROL", "bob"], "text": "by http",
                                        "nonce": "h1"})
    assert made.status == 200, made.body
    body = made.json()
    assert (body["room"], body["seq"]) == ("@ann:bob:carol", 1)
    _conforms(document, "/api/dm", "post", 200, body)
    again = await daemon.call("POST", "/api/dm", token=ann,
                              json_body={"to": ["bob", "carol", "ann"], "text": "by http",
                                         "nonce": "h1"})
    assert again.status == 200
    assert (again.json()["msg_id"], again.json().get("duplicate")) == (body["msg_id"], True)
    _conforms(document, "/api/dm", "post", 200, again.json())
    one = await daemon.call("POST", "/api/dm", token=ann,
                            json_body={"to": "bob", "text": "1:1", "nonce": "h2"})
    assert (one.status, one.json()["room"]) == (200, "@ann:bob")

    listed = await daemon.call("GET", "/api/rooms", token=ann)
    assert listed.status == 200
    _conforms(document, "/api/rooms", "get", 200, listed.json())
    kinds = {r["room"]: (r["kind"], r.get("peers"), r.get("peer"), r["notify"])
             for r in listed.json()["rooms"]}
    assert kinds == {"@ann:bob:carol": ("group", ["Bob", "carol"], None, "all"),
                     "@ann:bob": ("dm", None, "Bob", "all")}
    page = await daemon.call("GET", "/api/rooms/%40ann%3Abob%3Acarol/messages", token=ann)
    assert page.status == 200
    assert [m["text"] for m in page.json()["messages"]] == ["by http"]
    _conforms(document, "/api/rooms/{room}/messages", "get", 200, page.json())


async def test_refusals(daemon: Daemon, document: dict[str, Any]) -> None:
    """Nobody by that name: 404 naming it; more than eight people, a ``to`` that is no name
    or array, an empty array: 400; no token: 401; a stranger reading the conversation: 403.
    Each a JSON error with the protocol's code."""
    ann = await daemon.user("ann")
    names = [f"u{i}" for i in range(8)]
    for name in names:
        await daemon.user(name)
    dan = await daemon.user("dan")
    cases: list[tuple[Any, str | None, int, str]] = [
        (["nobody", "u1"], ann, 404, "not_found"),
        (names, ann, 400, "bad_request"),
        (7, ann, 400, "bad_request"),
        ([], ann, 400, "bad_request"),
        (["u1"], None, 401, "unauthenticated"),
    ]
    for to, token, status, code in cases:
        refused = await daemon.call("POST", "/api/dm", token=token,
                                    json_body={"to": to, "text": "x", "nonce": "r"})
        assert (refused.status, refused.json()["code"]) == (status, code), (to, refused.body)
        _conforms(document, "/api/dm", "post", status, refused.json())
    made = await daemon.call("POST", "/api/dm", token=ann,
                             json_body={"to": ["u1", "u2"], "text": "ours", "nonce": "m"})
    assert made.status == 200
    stranger = await daemon.call("GET", "/api/rooms/%40ann%3Au1%3Au2/messages", token=dan)
    assert (stranger.status, stranger.json()["code"]) == (403, "forbidden")
