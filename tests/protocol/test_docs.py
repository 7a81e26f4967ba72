"""docs/protocol.md describes the protocol the code speaks: every op, every event, every code.

A request and the server event of the same name (``typing``, ``read``) share one "### `op`"
section, which describes both."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from chatd.protocol import EVENTS, REQUESTS
from chatd.protocol.codes import CODES

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
HEADING = re.compile(r"^###\s+`([^`]+)`\s*$", re.MULTILINE)
# Event fields whose wire name differs from the dataclass field's.
WIRE_NAMES = {"sender": "from"}


@pytest.fixture(scope="module")
def text() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def headings(text: str) -> list[str]:
    return HEADING.findall(text)


@pytest.mark.parametrize("op", sorted(REQUESTS))
def test_every_request_has_a_heading(op: str, headings: list[str]) -> None:
    """Every request op has its own "### `op`" section."""
    assert op in headings


@pytest.mark.parametrize("op", sorted(EVENTS))
def test_every_event_has_a_heading(op: str, headings: list[str]) -> None:
    """Every server event op has a "### `op`" section (shared with the request of the same
    name, if there is one)."""
    assert op in headings


def test_every_heading_names_an_op(headings: list[str]) -> None:
    """Every "### `op`" section is about an op the code knows, and appears once (a request
    and an event of the same name share it)."""
    assert set(headings) <= set(REQUESTS) | set(EVENTS)
    assert len(headings) == len(set(headings))


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_error_code_is_documented(code: str, text: str) -> None:
    """Every error code a server may send is mentioned (as `code`)."""
    assert f"`{code}`" in text


def _section(text: str, op: str) -> str:
    return text.split(f"### `{op}`", 1)[1].split("\n### ", 1)[0]


@pytest.mark.parametrize("op", sorted(REQUESTS))
def test_every_request_field_is_documented(op: str, text: str) -> None:
    """Every field of every request appears, as `field`, in the op's section."""
    section = _section(text, op)
    fields = [f.name for f in dataclasses.fields(REQUESTS[op][0])]
    for field in fields:
        assert f"`{field}`" in section, f"{op}: field {field!r} is not documented"


@pytest.mark.parametrize("op", sorted(set(EVENTS) - {"ok"}))
def test_every_event_field_is_documented(op: str, text: str) -> None:
    """Every field of every server event appears, as `field`, in the op's section (for a
    shared heading, the section describes the event as well as the request). ``ok`` replies
    are documented with each request instead."""
    section = _section(text, op)
    for cls in EVENTS[op]:
        for field in dataclasses.fields(cls):
            name = WIRE_NAMES.get(field.name, field.name)
            assert f"`{name}`" in section, f"{op}: event field {name!r} is not documented"


@pytest.mark.parametrize("op", sorted(set(REQUESTS) & set(EVENTS)))
def test_shared_heading_describes_request_and_event(op: str, text: str) -> None:
    """A request and an event of the same name: their one section shows the event's frame."""
    assert f'{{"op":"{op}",' in _section(text, op)
