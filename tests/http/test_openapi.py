"""The OpenAPI description (chatd/http/openapi.py) stays true: every route of the route table
is described and every described path and method is routed, the document is valid OpenAPI
3.1, its examples and those of docs/protocol.md validate against its schemas (closed: no
field left undescribed), its error responses agree with the table of codes, it states the
daemon's settings, and the daemon serves it. (schemathesis sends it generated requests in
test_schemathesis.py.)"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import trio
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from chatd.config import Config
from chatd.http.openapi import ERROR_STATUSES, OPENAPI_PATH, build_document, route_template
from chatd.http.routes import ROUTES, Route, _find
from chatd.protocol import codes
from chatd.storage.base import Storage
from tests.http.serving import serve_http
from tests.http.test_http import Client

TIMEOUT = 20
DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
#: Described paths that are not in the route table: the page's files.
STATIC_PATHS = {"/"}


@pytest.fixture(scope="module")
def closed() -> dict[str, Any]:
    return build_document(Config(), closed=True)


def described(document: dict[str, Any]) -> set[tuple[str, str]]:
    """(path template, METHOD) of every operation of ``document``."""
    return {(path, method.upper()) for path, item in document["paths"].items()
            for method in item if method in METHODS}


def routed(routes: list[Route]) -> set[tuple[str, str]]:
    """(path template, METHOD) of every method of every route (HEAD is implied by GET)."""
    return {(route_template(route.pattern.pattern), method)
            for route in routes for method in route.methods}


def test_every_route_is_described_and_every_description_routed() -> None:
    """The route table and the description name the same paths and methods: a route added
    without a description (or a description left after its route went) fails here."""
    document = build_document(Config())
    missing = routed(ROUTES) - described(document)
    assert not missing, f"routes without a description in chatd/http/openapi.py: {missing}"
    extra = {op for op in described(document) - routed(ROUTES) if op[0] not in STATIC_PATHS}
    assert not extra, f"described but not routed: {extra}"
    for path in STATIC_PATHS:
        route, _ = _find(path)
        assert route not in ROUTES  # the page's files
        assert set(document["paths"][path]) == {"get"}


def test_an_undescribed_route_is_caught() -> None:
    """The comparison above notices a new route (and a new method on a route)."""
    document = build_document(Config())
    grown = [*ROUTES, Route(re.compile(r"/api/rooms/(?P<room>[^/]+)/stars"), {"GET": _find})]  # type: ignore[dict-item]
    assert routed(grown) - described(document) == {("/api/rooms/{room}/stars", "GET")}
    more = [Route(route.pattern, {**route.methods, "PATCH": _find})  # type: ignore[dict-item]
            if route.pattern.pattern == "/api/me" else route for route in ROUTES]
    assert routed(more) - described(document) == {("/api/me", "PATCH")}


@pytest.mark.parametrize("pattern", [r"/api/(a|b)", r"/api/x.*", r"/api/(?P<id>\d+)",
                                     r"/api/x?"])
def test_a_route_a_template_cannot_say_is_refused(pattern: str) -> None:
    """A route pattern with more than named groups of a character class (alternatives,
    wildcards, escapes) has no path template: an error, not a wrong template."""
    with pytest.raises(ValueError, match="not a plain path"):
        route_template(pattern)


def test_route_templates() -> None:
    assert route_template(r"/api/files/(?P<id>[0-9]{1,18})/(?P<name>[^/]*)") == \
        "/api/files/{id}/{name}"
    assert route_template(re.escape(OPENAPI_PATH)) == OPENAPI_PATH


@pytest.mark.parametrize("closed_objects", [False, True], ids=["served", "closed"])
def test_the_document_is_valid_openapi_3_1(closed_objects: bool) -> None:
    """Both readings validate as OpenAPI 3.1 (openapi-spec-validator), and survive a JSON
    round trip unchanged."""
    document = build_document(Config(), closed=closed_objects)
    assert document["openapi"].startswith("3.1.")
    validate_openapi(document)
    assert json.loads(json.dumps(document)) == document


def test_operations_are_named_once() -> None:
    document = build_document(Config())
    ids = [item[method]["operationId"] for item in document["paths"].values()
           for method in item]
    assert len(ids) == len(set(ids))


def validator(document: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    """A validator for the component schema ``name``, its references read in ``document``."""
    registry: Registry[Any] = Registry().with_resource(
        "urn:chatd:openapi", Resource.from_contents(document, default_specification=DRAFT202012))
    return jsonschema.Draft202012Validator(
        {"$ref": f"urn:chatd:openapi#/components/schemas/{name}"}, registry=registry)


def check(document: dict[str, Any], schema: dict[str, Any], value: Any) -> None:
    registry: Registry[Any] = Registry().with_resource(
        "urn:chatd:openapi", Resource.from_contents(document, default_specification=DRAFT202012))
    rooted = json.loads(json.dumps(schema).replace('"#/', '"urn:chatd:openapi#/'))
    jsonschema.Draft202012Validator(rooted, registry=registry).validate(value)


def examples_of(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(where, schema, example) of every example in the document: a schema's ``examples``,
    a media type's or a parameter's ``example``."""
    if isinstance(node, dict):
        if "schema" in node and "example" in node:
            yield where, node["schema"], node["example"]
        if "examples" in node and isinstance(node["examples"], list) and "type" in node:
            for example in node["examples"]:
                yield where, {k: v for k, v in node.items() if k != "examples"}, example
        for key, value in node.items():
            yield from examples_of(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from examples_of(value, f"{where}/{index}")


def test_the_documents_own_examples_validate(closed: dict[str, Any]) -> None:
    """Every example in the description fits the schema it illustrates."""
    found = list(examples_of(closed))
    assert len(found) > 20
    for where, schema, example in found:
        try:
            check(closed, schema, example)
        except jsonschema.ValidationError as exc:
            raise AssertionError(f"{where}: {exc.message}") from None


def protocol_examples() -> list[Any]:
    """Every JSON value of docs/protocol.md that parses: the ```json blocks, and the server
    lines (``S: {...}``) of its example exchange; those with an ellipsis do not parse."""
    text = DOC.read_text(encoding="utf-8")
    found = []
    blocks = re.findall(r"```json\n(.*?)```", text, re.DOTALL)
    lines = re.findall(r"^S: (\{.*\})$", text, re.MULTILINE)
    for raw in [*blocks, *lines]:
        try:
            found.append(json.loads(raw))
        except ValueError:
            continue
    return found


def test_the_protocol_examples_validate(closed: dict[str, Any]) -> None:
    """The room, message, change entries, file, search result, user, contact, error and
    followed thread examples of docs/protocol.md fit the description's schemas, read
    closed."""
    seen: dict[str, int] = {}

    def fits(name: str, value: Any) -> None:
        errors = list(validator(closed, name).iter_errors(value))
        assert not errors, f"{name} {value}: {[e.message for e in errors]}"
        seen[name] = seen.get(name, 0) + 1

    entries = {"message": "Message", "edited": "Edited", "deleted": "Deleted",
               "reaction": "Reaction", "topic": "Topic", "role": "RoleEntry",
               "banned": "Banned", "unbanned": "Unbanned", "kicked": "Kicked",
               "archived": "Archived"}
    for value in protocol_examples():
        if not isinstance(value, dict):
            continue
        op = value.get("op")
        if op in entries and "seq" in value:
            fits(entries[op], value)
            fits("Entry", value)
        elif op == "welcome":
            fits("User", value["user"])
            for room in value["rooms"]:
                fits("Room", room)
            for contact in value["contacts"]:
                fits("Contact", contact)
        elif op == "error":
            fits("Error", {k: v for k, v in value.items() if k not in ("op", "id")})
        elif op == "ok" and "threads" in value:
            for thread in value["threads"]:
                fits("Thread", thread)
        elif op == "ok" and "messages" in value and "last_seq" not in value:
            for message in value["messages"]:
                fits("SearchResult" if "snippet" in message else "Entry", message)
        elif op is None and {"room", "kind", "last_seq"} <= set(value):
            fits("Room", value)
        elif op is None and {"id", "url", "content_type"} <= set(value):
            fits("File", value)
    assert {"Room", "Message", "Edited", "Deleted", "Reaction", "Topic", "RoleEntry",
            "Banned", "Unbanned", "Kicked", "File", "SearchResult", "User", "Contact",
            "Error", "Thread"} <= set(seen), seen


def test_a_field_not_described_fails_the_closed_reading(closed: dict[str, Any]) -> None:
    """Read closed, a room object with a field more is refused: a field the server starts
    sending must be described first. The served reading lets clients' newer fields through."""
    room = {"room": "general", "kind": "room", "private": False, "topic": "", "owner": "ann",
            "last_seq": 3, "member": True, "read_seq": 3, "unread": 0, "mentions": 0,
            "notify": "mentions", "role": "owner", "archived": False, "favourite": False,
            "section": None}
    validator(closed, "Room").validate(room)
    with pytest.raises(jsonschema.ValidationError):
        validator(closed, "Room").validate({**room, "pinned": True})
    validator(build_document(Config()), "Room").validate({**room, "pinned": True})


def test_error_responses_agree_with_the_codes() -> None:
    """Each error status carries codes that map to it (codes.HTTP_STATUS), but for the
    statuses the HTTP front gives bad_request and too_large itself (408, 416, 431); every
    code the HTTP front may send is described under some status."""
    own = {408: codes.BAD_REQUEST, 416: codes.BAD_REQUEST, 431: codes.TOO_LARGE}
    for status, found in ERROR_STATUSES.items():
        for code in found:
            assert codes.HTTP_STATUS[code] == status or own.get(status) == code, (status, code)
    http_codes = {codes.BAD_REQUEST, codes.UNAUTHENTICATED, codes.FORBIDDEN, codes.NOT_FOUND,
                  codes.METHOD_NOT_ALLOWED, codes.CONFLICT, codes.TOO_LARGE,
                  codes.RATE_LIMITED, codes.INTERNAL, codes.UNAVAILABLE, codes.SHUTTING_DOWN}
    assert http_codes <= {code for found in ERROR_STATUSES.values() for code in found}


def test_every_bearer_operation_answers_401(closed: dict[str, Any]) -> None:
    """An operation that takes a token lists 401, and one that takes a body lists 400 and
    413; every operation lists 500 and 503."""
    for path, item in closed["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert {"500", "503"} <= set(responses), (path, method)
            if any("bearer" in option for option in operation["security"]):
                assert "401" in responses, (path, method)
            if "requestBody" in operation:
                assert {"400", "413"} <= set(responses), (path, method)


def test_the_description_states_the_settings() -> None:
    """Limits that are settings appear as the daemon has them."""
    config = Config().replace(limits={"history_max": 77, "rooms_page_max": 33},
                              auth={"min_password_length": 12})
    document = build_document(config)
    history = {p["name"]: p for p in
               document["paths"]["/api/rooms/{room}/messages"]["get"]["parameters"]}
    assert history["limit"]["schema"]["maximum"] == 77
    rooms = {p["name"]: p for p in document["paths"]["/api/rooms"]["get"]["parameters"]}
    # A larger page size is clamped, not refused: said in words, not as a schema maximum.
    assert "maximum" not in rooms["limit"]["schema"]
    assert "larger number than 33 gives 33" in rooms["limit"]["description"]
    body = document["paths"]["/api/register"]["post"]["requestBody"]["content"]
    assert body["application/json"]["schema"]["properties"]["password"]["minLength"] == 12


# -- served by the daemon ----------------------------------------------------------------------


@pytest.fixture
async def port(nursery: trio.Nursery, storage: Storage, tmp_path: Path) -> AsyncIterator[int]:
    config = Config().replace(server={"data_dir": str(tmp_path / "data")},
                              limits={"history_max": 77})
    served = await serve_http(nursery, storage, config)
    yield served.port
    nursery.cancel_scope.cancel()


async def test_served_without_a_token_and_cacheable(port: int) -> None:
    """``GET /api/openapi.json`` needs no token, describes the daemon's own settings, has an
    ETag and may be cached; ``If-None-Match`` with it is 304 and ``HEAD`` has no body."""
    with trio.fail_after(TIMEOUT):
        client = await Client.open(port)
        try:
            response = await client.request("GET", OPENAPI_PATH)
            assert response.status == 200
            assert response.headers["content-type"] == "application/json"
            assert response.headers["cache-control"] == "public, max-age=300"
            document = response.json()
            assert document == build_document(
                Config().replace(limits={"history_max": 77}))
            etag = response.headers["etag"]
            again = await client.request("GET", OPENAPI_PATH, headers=[("If-None-Match", etag)])
            assert again.status == 304 and again.body == b""
            assert again.headers["etag"] == etag
            head = await client.request("HEAD", OPENAPI_PATH)
            assert head.status == 200 and head.body == b""
            refused = await client.request("POST", OPENAPI_PATH)
            assert refused.status == 405 and refused.headers["allow"] == "GET, HEAD"
        finally:
            await client.aclose()


def _json_schema(operation: dict[str, Any], part: str) -> dict[str, Any]:
    """The JSON schema of an operation's request body (``part`` "body") or 200 answer."""
    holder = operation["requestBody"] if part == "body" else operation["responses"]["200"]
    return dict(holder["content"]["application/json"]["schema"])


def test_a_ban_that_deletes_messages_is_described(closed: dict[str, Any]) -> None:
    """``delete_messages`` (0 to 7 days) in the ban's body; ``deleted`` and ``more_deleted``
    in its answer, read closed."""
    ban = closed["paths"]["/api/rooms/{room}/bans"]["post"]
    body, answer = _json_schema(ban, "body"), _json_schema(ban, "answer")
    check(closed, body, {"user": "eve", "delete_messages": 604800})
    for bad in (-1, 604801, "3600"):
        with pytest.raises(jsonschema.ValidationError):
            check(closed, body, {"user": "eve", "delete_messages": bad})
    check(closed, answer, {"room": "team", "user": "eve", "reason": "", "expires_at": None,
                           "seq": 9, "ts": 1, "deleted": 1000, "more_deleted": True})


def test_a_deactivation_that_deletes_messages_is_described(closed: dict[str, Any]) -> None:
    """The deactivation's optional body takes ``delete_messages``; its answer may carry
    ``deleted`` and ``more_deleted``; the audit log's ``purge`` entries are described."""
    deactivate = closed["paths"]["/api/admin/users/{name}/deactivate"]["post"]
    assert deactivate["requestBody"]["required"] is False
    body, answer = _json_schema(deactivate, "body"), _json_schema(deactivate, "answer")
    check(closed, body, {"delete_messages": 3600})
    check(closed, body, {})
    with pytest.raises(jsonschema.ValidationError):
        check(closed, body, {"delete_messages": 604801})
    user = {"id": 1, "name": "eve", "created_at": 1, "admin": False, "deactivated": True,
            "deactivated_at": 2, "bot": False}
    check(closed, answer, {"user": user})
    check(closed, answer, {"user": user, "deleted": 1000, "more_deleted": True})
    check(closed, {"$ref": "#/components/schemas/AuditEntry"}, {
        "id": 1, "ts": 1, "actor": "root", "action": "purge", "target": "eve", "room": "team",
        "reason": "", "details": {"deleted": 3}})
