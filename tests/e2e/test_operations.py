"""End-to-end: what an operator relies on — metrics, log-in limits, the proxy address."""

from __future__ import annotations

import gc
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from chatd.server import Server
from tests.client import Client, http, register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config


async def test_metrics_parse_and_count_what_happened(daemon: Server) -> None:
    """/metrics is valid Prometheus text and its counters follow the traffic."""
    client = await Client.tcp(daemon.tcp_port)
    await client.hello(await register_and_login(daemon.http_port, "counted"))
    await client.request("join", room="metered")
    for i in range(3):
        await client.request("send", room="metered", text=f"m{i}", nonce=f"m{i}")
    first = await client.request("history", room="metered")
    mid = first["messages"][0]["msg_id"]
    await client.request("react", room="metered", msg_id=mid, emoji="👍")
    await client.request("react", room="metered", msg_id=mid, emoji="👍")  # changes nothing
    await http(daemon.http_port, "POST", "/api/login", {"username": "counted", "password": "no"})
    status, body = await http(daemon.http_port, "GET", "/metrics")
    assert status == 200
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }
    assert samples[("chatd_connections", (("transport", "tcp"),))] == 1
    assert samples[("chatd_messages_stored_total", ())] == 3
    assert samples[("chatd_changes_stored_total", ())] == 1
    assert samples[("chatd_messages_delivered_total", ())] == 4
    assert samples[("chatd_logins_total", (("result", "ok"),))] == 1
    assert samples[("chatd_logins_total", (("result", "failed"),))] == 1
    assert samples[("chatd_send_ack_seconds_count", ())] == 5
    assert samples[("chatd_commit_batch_size_sum", ())] == 5
    assert samples[("chatd_commit_seconds_count", ())] == samples[
        ("chatd_commit_batch_size_count", ())]
    assert samples[("chatd_commit_seconds_sum", ())] > 0
    assert samples[("chatd_db_pool_connections", ())] >= 1
    assert ("chatd_db_pool_in_use", ()) in samples
    assert ("chatd_slow_consumer_disconnects_total", ()) in samples
    assert ("chatd_outbox_drops_total", ()) in samples
    assert not [name for name, _ in samples if name.startswith("chatd_embedded")]  # a DSN
    await client.aclose()


async def test_login_attempts_are_limited_per_user_and_per_address(
    tmp_path: Path, database_dsn: str,
) -> None:
    """Failed log-ins for one name are refused past the limit with 429 and Retry-After, even
    with the right password; other names from another address are not affected; past the
    per-address limit every name is refused."""
    config = make_config(tmp_path, database_dsn, auth={
        "login_failures_per_user": 3, "login_attempts_per_ip": 8,
    }, http={"trust_forwarded_for": True})
    async with running(config) as server:
        port = server.http_port
        await register_and_login(port, "target", "the right one")
        for _ in range(3):
            status, _ = await http(port, "POST", "/api/login",
                                   {"username": "target", "password": "guess"})
            assert status == 401
        status, body = await http(port, "POST", "/api/login",
                                  {"username": "TARGET", "password": "the right one"})
        assert status == 429 and body["code"] == "rate_limited" and body["retry_after"] > 0
        await register_and_login(port, "bystander", "another one")  # 2 attempts so far: ok
        for _ in range(4):
            await http(port, "POST", "/api/login", {"username": "x", "password": "y"})
        status, body = await http(port, "POST", "/api/login",
                                  {"username": "bystander", "password": "another one"})
        assert status == 429
        # Through a trusted proxy, another client address has its own allowance.
        status, body = await http(port, "POST", "/api/login",
                                  {"username": "bystander", "password": "another one"},
                                  headers=[("X-Forwarded-For", "203.0.113.9")])
        assert status == 200, body


async def test_logout_ends_the_sessions_of_the_revoked_token(daemon: Server) -> None:
    """Logging out closes the live sessions of that token (told unauthenticated), not those
    of the user's other tokens; logging out everywhere closes them all."""
    port = daemon.http_port
    first = await register_and_login(port, "leaver")
    second = await register_and_login(port, "leaver")
    on_first, on_second = await Client.tcp(daemon.tcp_port), await Client.tcp(daemon.tcp_port)
    await on_first.hello(first)
    await on_second.hello(second)
    status, _ = await http(port, "POST", "/api/logout", {}, token=first)
    assert status == 200
    await on_first.wait_closed()
    assert [e["code"] for e in on_first.events if e["op"] == "error"] == ["unauthenticated"]
    assert (await on_second.request("ping"))["op"] == "ok"
    status, _ = await http(port, "POST", "/api/logout", {"everywhere": True}, token=second)
    assert status == 200
    await on_second.wait_closed()
    assert [e["code"] for e in on_second.events if e["op"] == "error"] == ["unauthenticated"]


async def test_metrics_time_the_garbage_collector(daemon: Server) -> None:
    """Every collection while the daemon runs is counted and timed (this daemon runs in the
    test's process, so a collection made here is one of its own)."""

    async def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        status, body = await http(daemon.http_port, "GET", "/metrics")
        assert status == 200
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(body.decode())
            for sample in family.samples
        }

    full = ("chatd_gc_collections_total", (("generation", "2"),))
    seconds = ("chatd_gc_seconds_total", (("generation", "2"),))
    before = await scrape()
    gc.collect()
    gc.collect()
    after = await scrape()
    assert after[full] >= before[full] + 2
    assert after[seconds] > before[seconds]
    assert after[("chatd_gc_longest_pause_seconds", ())] > 0
