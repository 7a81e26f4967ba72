"""The HTTP routes of user groups (``/api/groups``): statuses, JSON errors with the protocol's
codes, the namespace shared with registration, and every answer checked against the OpenAPI
document (the closed reading: no field it does not describe)."""

from __future__ import annotations

from typing import Any

from tests.http.test_scheduled import _conforms
from tests.http.test_uploads import Daemon


async def test_the_routes(daemon: Daemon, document: dict[str, Any]) -> None:
    """POST makes (201 {group}), GET lists with you (200), GET one with its members, PATCH
    changes (200 {group}), DELETE deletes (200 {}); each answer as the document says."""
    ann = await daemon.user("ann")
    bob = await daemon.user("Bob")
    made = await daemon.call("POST", "/api/groups", token=ann,
                             json_body={"name": "Backend", "description": "Server people",
                                        "members": ["bob"]})
    assert made.status == 201, made.body
    _conforms(document, "/api/groups", "post", 201, made.json())
    group = made.json()["group"]
    assert (group["name"], group["members"], group["by"]) == ("backend", 1, "ann")

    listed = await daemon.call("GET", "/api/groups", token=bob)
    assert listed.status == 200
    _conforms(document, "/api/groups", "get", 200, listed.json())
    assert listed.json()["groups"] == [{**group, "you": True}]

    one = await daemon.call("GET", "/api/groups/BACKEND", token=ann)
    assert one.status == 200
    _conforms(document, "/api/groups/{name}", "get", 200, one.json())
    assert one.json() == {"group": group, "members": ["Bob"]}

    changed = await daemon.call("PATCH", "/api/groups/backend", token=bob,
                                json_body={"add": ["ann"], "description": "API"})
    assert changed.status == 200, changed.body
    _conforms(document, "/api/groups/{name}", "patch", 200, changed.json())
    assert (changed.json()["group"]["members"],
            changed.json()["group"]["description"]) == (2, "API")

    gone = await daemon.call("DELETE", "/api/groups/backend", token=ann)
    assert gone.status == 200, gone.body
    _conforms(document, "/api/groups/{name}", "delete", 200, gone.json())
    missing = await daemon.call("GET", "/api/groups/backend", token=ann)
    assert (missing.status, missing.json()["code"]) == (404, "not_found")


async def test_errors(daemon: Daemon, document: dict[str, Any]) -> None:
    """No token: 401; a bad name 400; a user's name 409; a member who is nobody 404; a
    stranger's change 403; registering a group's name 409."""
    ann = await daemon.user("ann")
    eve = await daemon.user("eve")
    no_token = await daemon.call("GET", "/api/groups")
    assert no_token.status == 401
    for body, status, code in (({"name": "no way"}, 400, "bad_request"),
                               ({"name": "EVE"}, 409, "conflict"),
                               ({"name": "ops", "members": ["zed"]}, 404, "not_found")):
        answer = await daemon.call("POST", "/api/groups", token=ann, json_body=body)
        assert (answer.status, answer.json()["code"]) == (status, code), answer.body
        _conforms(document, "/api/groups", "post", status, answer.json())
    assert (await daemon.call("POST", "/api/groups", token=ann,
                              json_body={"name": "ops"})).status == 201
    forbidden = await daemon.call("PATCH", "/api/groups/ops", token=eve,
                                  json_body={"add": ["eve"]})
    assert (forbidden.status, forbidden.json()["code"]) == (403, "forbidden")
    _conforms(document, "/api/groups/{name}", "patch", 403, forbidden.json())
    taken = await daemon.call("POST", "/api/register",
                              json_body={"username": "Ops", "password": "correct horse"})
    assert (taken.status, taken.json()["code"]) == (409, "conflict"), taken.body
