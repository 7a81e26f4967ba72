"""The HTTP routes of scheduled messages (``/api/me/scheduled``) and ``GET /api/me``'s counts:
statuses, JSON errors with the protocol's codes, and every answer checked against the
OpenAPI document (the closed reading: no field it does not describe)."""

from __future__ import annotations

from typing import Any

from tests.helpers import now_ms
from tests.http.test_openapi import check
from tests.http.test_uploads import Daemon

HOUR = 3600 * 1000


def _conforms(document: dict[str, Any], path: str, method: str, status: int,
              body: Any) -> None:
    """``body`` is what the document says ``method path`` answers with ``status``."""
    response = document["paths"][path][method]["responses"][str(status)]
    if "$ref" in response:
        name = response["$ref"].rsplit("/", 1)[-1]
        response = document["components"]["responses"][name]
    check(document, response["content"]["application/json"]["schema"], body)


async def test_the_routes(daemon: Daemon, document: dict[str, Any]) -> None:
    """POST schedules (201 {item}), GET lists by send_at, PATCH changes (200 {item}),
    DELETE cancels (204); GET /api/me carries reminders_due always and scheduled_count and
    scheduled_failed while there are items; each answer as the document says."""
    ann = await daemon.user("ann")
    await daemon.room(ann, "general")
    me = await daemon.call("GET", "/api/me", token=ann)
    assert me.status == 200
    assert me.json()["reminders_due"] == 0 and "scheduled_count" not in me.json()
    _conforms(document, "/api/me", "get", 200, me.json())

    later = now_ms() + HOUR
    made = await daemon.call("POST", "/api/me/scheduled", token=ann,
                             json_body={"room": "general", "text": "later", "send_at": later})
    assert made.status == 201, made.body
    _conforms(document, "/api/me/scheduled", "post", 201, made.json())
    item = made.json()["item"]
    assert (item["room"], item["text"], item["send_at"], item["state"]) == (
        "general", "later", later, "pending")
    sooner = await daemon.call("POST", "/api/me/scheduled", token=ann,
                               json_body={"room": "general", "text": "sooner",
                                          "send_at": later - 1000})
    listed = await daemon.call("GET", "/api/me/scheduled", token=ann)
    assert listed.status == 200
    _conforms(document, "/api/me/scheduled", "get", 200, listed.json())
    assert [i["text"] for i in listed.json()["items"]] == ["sooner", "later"]
    me = await daemon.call("GET", "/api/me", token=ann)
    assert me.json()["scheduled_count"] == 2 and "scheduled_failed" not in me.json()
    _conforms(document, "/api/me", "get", 200, me.json())

    changed = await daemon.call("PATCH", f"/api/me/scheduled/{item['item']}", token=ann,
                                json_body={"text": "later, changed"})
    assert changed.status == 200, changed.body
    _conforms(document, "/api/me/scheduled/{item}", "patch", 200, changed.json())
    assert changed.json()["item"]["text"] == "later, changed"
    assert changed.json()["item"]["send_at"] == later
    gone = await daemon.call("DELETE", f"/api/me/scheduled/{sooner.json()['item']['item']}",
                             token=ann)
    assert gone.status == 204, gone.body
    listed = await daemon.call("GET", "/api/me/scheduled", token=ann)
    assert [i["text"] for i in listed.json()["items"]] == ["later, changed"]


async def test_refusals(daemon: Daemon, document: dict[str, Any]) -> None:
    """Another user's item is 404 to change or cancel (and stays); a room one is not in is
    403; a time past, a bad body or a bad path 400; no token 401: each a JSON error with the
    protocol's code, as the document says."""
    ann = await daemon.user("ann")
    bob = await daemon.user("bob")
    await daemon.room(ann, "general")
    made = await daemon.call("POST", "/api/me/scheduled", token=ann,
                             json_body={"room": "general", "text": "mine",
                                        "send_at": now_ms() + HOUR})
    item = made.json()["item"]["item"]
    cases: list[tuple[str, str, str | None, Any, int, str]] = [
        ("PATCH", f"/api/me/scheduled/{item}", bob, {"text": "theirs"}, 404, "not_found"),
        ("DELETE", f"/api/me/scheduled/{item}", bob, None, 404, "not_found"),
        ("DELETE", "/api/me/scheduled/999999", ann, None, 404, "not_found"),
        ("POST", "/api/me/scheduled", bob,
         {"room": "general", "text": "x", "send_at": now_ms() + HOUR}, 403, "forbidden"),
        ("POST", "/api/me/scheduled", ann,
         {"room": "general", "text": "x", "send_at": now_ms() - 1}, 400, "bad_request"),
        ("POST", "/api/me/scheduled", ann, {"room": "general", "text": "x"}, 400,
         "bad_request"),
        ("POST", "/api/me/scheduled", ann, [1, 2], 400, "bad_request"),
        ("PATCH", f"/api/me/scheduled/{item}", ann, {"send_at": "now"}, 400, "bad_request"),
        ("GET", "/api/me/scheduled", None, None, 401, "unauthenticated"),
    ]
    for method, path, token, body, status, code in cases:
        response = await daemon.call(method, path, token=token, json_body=body)
        assert response.status == status, (method, path, body, response.body)
        assert response.json()["code"] == code, (method, path, body, response.body)
        template = "/api/me/scheduled/{item}" if path.count("/") == 4 else path
        _conforms(document, template, method.lower(), status, response.json())
    listed = await daemon.call("GET", "/api/me/scheduled", token=ann)
    assert [i["text"] for i in listed.json()["items"]] == ["mine"]
