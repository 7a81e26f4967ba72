"""Tables, ratios and the issue's targets, from a results document."""

from __future__ import annotations

from typing import Any

__all__ = ["markdown", "ratios", "targets"]


def _rows(doc: dict[str, Any], scenario: str, server: str | None = None) -> list[dict[str, Any]]:
    return [r for r in doc["results"] if r["scenario"] == scenario
            and (server is None or r["server"] == server)]


def _closed(doc: dict[str, Any], server: str) -> dict[str, Any] | None:
    """The closed-loop durable send at the main connection count (the largest rooms count)."""
    rows = [r for r in _rows(doc, "durable_send", server) if r["params"]["mode"] == "closed"]
    return rows[0] if rows else None


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, 3)


def ratios(doc: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    chatd, peer, echo = _closed(doc, "chatd"), _closed(doc, "socketio"), _closed(doc, "echo")
    ceiling = {r["params"]["mode"]: r["figures"] for r in _rows(doc, "commit_ceiling")}
    c_acked = chatd["figures"]["acked_per_s"] if chatd else None
    if peer:
        out["closed_acked_chatd_over_peer"] = _ratio(c_acked, peer["figures"]["acked_per_s"])
        out["closed_p99_chatd_over_peer"] = _ratio(
            chatd["figures"]["p99_ms"] if chatd else None, peer["figures"]["p99_ms"])
    if "batched" in ceiling:
        out["closed_acked_over_batched_commit_ceiling"] = _ratio(
            c_acked, ceiling["batched"]["rows_per_s"])
    if "one_per_tx" in ceiling:
        out["closed_acked_over_one_per_tx_ceiling"] = _ratio(
            c_acked, ceiling["one_per_tx"]["rows_per_s"])
        if peer:
            out["peer_acked_over_one_per_tx_ceiling"] = _ratio(
                peer["figures"]["acked_per_s"], ceiling["one_per_tx"]["rows_per_s"])
    if echo:
        out["closed_acked_over_echo"] = _ratio(c_acked, echo["figures"]["acked_per_s"])
    by_rate: dict[float, dict[str, Any]] = {}
    for r in _rows(doc, "durable_send"):
        p = r["params"]
        if p["mode"] == "open" and p["connections"] == _main_connections(doc):
            by_rate.setdefault(p["offered_per_s"], {})[r["server"]] = r["figures"]
    out["open_loop"] = [
        {"offered_per_s": rate,
         "acked_chatd_over_peer": _ratio(v["chatd"]["acked_per_s"], v["socketio"]["acked_per_s"]),
         "p99_chatd_over_peer": _ratio(v["chatd"]["p99_ms"], v["socketio"]["p99_ms"])}
        for rate, v in sorted(by_rate.items()) if "chatd" in v and "socketio" in v
    ]
    fan = {s: max((r["figures"]["deliveries_per_s"] for r in _rows(doc, "fanout", s)),
                  default=None) for s in ("chatd", "socketio")}
    out["fanout_max_deliveries_chatd_over_peer"] = _ratio(fan["chatd"], fan["socketio"])
    out.update(_change_ratios(doc))
    return out


def _change_ratios(doc: dict[str, Any]) -> dict[str, Any]:
    """A change against a send, in the same run (chatd, same connections, rooms and load):
    acked/s and latency in closed loop, and latency at each offered rate in open loop."""
    sends = {(r["params"]["mode"], r["params"]["offered_per_s"]): r["figures"]
             for r in _rows(doc, "durable_send", "chatd")
             if r["params"]["connections"] == _main_connections(doc)}
    out: dict[str, Any] = {}
    rows = []
    for r in _rows(doc, "change", "chatd"):
        p, f = r["params"], r["figures"]
        send = sends.get((p["mode"], p["offered_per_s"]))
        if send is None:
            continue
        if p["mode"] == "closed":
            out["closed_acked_change_over_send"] = _ratio(f["acked_per_s"], send["acked_per_s"])
            out["closed_p50_change_over_send"] = _ratio(f["p50_ms"], send["p50_ms"])
            out["closed_p99_change_over_send"] = _ratio(f["p99_ms"], send["p99_ms"])
        else:
            rows.append({"offered_per_s": p["offered_per_s"],
                         "acked_change_over_send": _ratio(f["acked_per_s"],
                                                          send["acked_per_s"]),
                         "p50_change_over_send": _ratio(f["p50_ms"], send["p50_ms"]),
                         "p99_change_over_send": _ratio(f["p99_ms"], send["p99_ms"]),
                         "server_cores_change_over_send": _ratio(f["server_cores"],
                                                                 send["server_cores"])})
    if rows:
        out["change_open_loop"] = rows
    return out


def _main_connections(doc: dict[str, Any]) -> int | None:
    closed = [r for r in _rows(doc, "durable_send") if r["params"]["mode"] == "closed"]
    return closed[0]["params"]["connections"] if closed else None


def targets(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) for each target of issue 5 that this run measured."""
    out: list[tuple[str, str, str]] = []
    chatd, peer = _closed(doc, "chatd"), _closed(doc, "socketio")
    ceiling = {r["params"]["mode"]: r["figures"] for r in _rows(doc, "commit_ceiling")}

    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    if chatd and peer:
        r = _ratio(chatd["figures"]["acked_per_s"], peer["figures"]["acked_per_s"])
        out.append(("acked sends/s ≥ 2x the Socket.IO peer (closed loop)",
                    f"{r}x", verdict(r is not None and r >= 2)))
    if chatd and "batched" in ceiling:
        r = _ratio(chatd["figures"]["acked_per_s"], ceiling["batched"]["rows_per_s"])
        out.append(("acked sends/s ≥ ½ the raw batched commit ceiling",
                    f"{r}x", verdict(r is not None and r >= 0.5)))
    open_rows = ratios(doc)["open_loop"]
    if open_rows:
        worst = max((row["p99_chatd_over_peer"] for row in open_rows
                     if row["p99_chatd_over_peer"] is not None), default=None)
        detail = ", ".join(f"{row['offered_per_s']:g}/s: {row['p99_chatd_over_peer']}x"
                           for row in open_rows)
        out.append(("p99 send→ack ≤ ½ the peer's at the same offered load", detail,
                    verdict(worst is not None and worst <= 0.5)))
    fan = [r["figures"]["deliveries_per_s"] for r in _rows(doc, "fanout", "chatd")]
    if fan:
        out.append(("fan-out ≥ 100,000 deliveries/s to a 1,000-member room",
                    f"{max(fan):,.0f}/s", verdict(max(fan) >= 100_000)))
    idle = [r for r in _rows(doc, "connections", "chatd") if r["params"]["connections"] >= 10_000]
    if idle:
        kib = idle[-1]["figures"]["rss_per_conn_kib"]
        out.append(("10,000 idle connections at ≤ 40 KiB RSS each", f"{kib} KiB",
                    verdict(kib <= 40)))
    scale = _scale_rows(doc, "chatd")
    if len(scale) >= 2:
        costs = [(c, f["server_cpu_ms_per_msg"]) for c, f in scale
                 if f["server_cpu_ms_per_msg"] is not None]
        if costs:
            lo, hi = min(x for _, x in costs), max(x for _, x in costs)
            detail = ", ".join(f"{c:,}: {x} ms" for c, x in costs)
            out.append(("daemon CPU per message flat from 100 to 10,000 connections "
                        "(within 25 %)", detail, verdict(hi <= lo * 1.25)))
    return out


def _scale_rows(doc: dict[str, Any], server: str) -> list[tuple[int, dict[str, Any]]]:
    """The open-loop runs at the lowest offered rate, one per connection count."""
    rows = [r for r in _rows(doc, "durable_send", server) if r["params"]["mode"] == "open"]
    if not rows:
        return []
    low = min(r["params"]["offered_per_s"] for r in rows)
    found: dict[int, dict[str, Any]] = {}
    for r in rows:
        if r["params"]["offered_per_s"] == low:
            found.setdefault(r["params"]["connections"], r["figures"])
    return sorted(found.items())


def _server(r: dict[str, Any]) -> str:
    """The server's name, with the load generator when it is not the default one."""
    loadgen = r["params"].get("loadgen")
    return str(r["server"]) + (f" ({loadgen} loadgen)" if loadgen else "")


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        return f"{value:g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(head: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(doc: dict[str, Any]) -> str:
    parts = []
    m = doc.get("machine", {})
    parts.append(f"Run {doc.get('date')} on {m.get('cpu')} ({m.get('cores')} cores, "
                 f"{m.get('mem_gib')} GiB, {m.get('os')}, Python {m.get('python')}, node "
                 f"{m.get('node') or '-'}), commit {doc.get('commit', '')[:12]}"
                 f"{' (dirty)' if doc.get('dirty') else ''}; PostgreSQL "
                 f"{doc.get('postgres', {}).get('server_version', '?')} fsync="
                 f"{doc.get('postgres', {}).get('fsync', '?')} synchronous_commit="
                 f"{doc.get('postgres', {}).get('synchronous_commit', '?')}.")
    rows = []
    for r in _rows(doc, "durable_send"):
        p, f = r["params"], r["figures"]
        server = _server(r) + (f" --workers {p['workers']}" if p.get("workers") else "")
        rows.append([server, r["transport"], p["mode"] + (f" w={p['window']}"
                     if p["mode"] == "closed" else ""), f"{p['connections']}/{p['rooms']}",
                     p["offered_per_s"], f["acked_per_s"], f["p50_ms"], f["p99_ms"],
                     f["p99_9_ms"], f["errors"] + f["timeouts"], f["server_cores"],
                     f.get("pg_cores"), f["server_cpu_ms_per_msg"]])
    if rows:
        parts.append("### Durable send\n\n" + _table(
            ["server", "transport", "loop", "conns/rooms", "offered/s", "acked/s", "p50 ms",
             "p99 ms", "p99.9 ms", "errors+timeouts", "server cores", "PG cores",
             "server CPU ms/msg"], rows))
    rows = []
    for r in _rows(doc, "change"):
        p, f = r["params"], r["figures"]
        rows.append([r["transport"], p["mode"] + (f" w={p['window']}"
                     if p["mode"] == "closed" else ""), f"{p['connections']}/{p['rooms']}",
                     p["offered_per_s"], f["acked_per_s"], f["p50_ms"], f["p99_ms"],
                     f["p99_9_ms"], f["errors"] + f["timeouts"], f["unchanged"],
                     f["server_cores"], f.get("pg_cores"), f["server_cpu_ms_per_msg"]])
    if rows:
        parts.append("### Changes to messages (chatd; reactions put and taken back, edits)\n\n"
                     + _table(["transport", "loop", "conns/rooms", "offered/s", "acked/s",
                               "p50 ms", "p99 ms", "p99.9 ms", "errors+timeouts", "unchanged",
                               "server cores", "PG cores", "server CPU ms/change"], rows))
    rows = []
    for r in _rows(doc, "fanout"):
        p, f = r["params"], r["figures"]
        rows.append([_server(r), p["members"], p["messages_per_s"],
                     f["offered_deliveries_per_s"], f["deliveries_per_s"], f["p50_ms"],
                     f["p99_ms"], f["p99_9_ms"], f["server_cores"],
                     f["server_cpu_us_per_delivery"]])
    if rows:
        parts.append("### Fan-out\n\n" + _table(
            ["server", "members", "msgs/s sent", "offered deliveries/s", "deliveries/s",
             "p50 ms", "p99 ms", "p99.9 ms", "server cores", "server CPU µs/delivery"], rows))
    rows = []
    for r in _rows(doc, "connections"):
        p, f = r["params"], r["figures"]
        rows.append([_server(r), p["connections"], f["rss_before_mib"], f["rss_after_mib"],
                     f["rss_per_conn_kib"], f["connect_hello_per_s"],
                     f["server_cpu_ms_per_conn"]])
    if rows:
        parts.append("### Idle connections\n\n" + _table(
            ["server", "connections", "RSS before MiB", "RSS after MiB", "RSS/conn KiB",
             "connect+hello/s", "server CPU ms/conn"], rows))
    rows = []
    for r in _rows(doc, "resume"):
        p, f = r["params"], r["figures"]
        rows.append([p["clients"], p["rooms"], p["missed_per_room"], f["messages_replayed"],
                     f["all_caught_up_s"], f["caught_up_p50_s"], f["welcome_p99_s"],
                     f["failed"], f["daemon_stop_s"], f["daemon_start_s"]])
    if rows:
        parts.append("### Resume after a restart (chatd)\n\n" + _table(
            ["clients", "rooms", "missed/room", "replayed", "all caught up s", "p50 s",
             "welcome p99 s", "failed", "SIGTERM→exit s", "start→listening s"], rows))
    rows = []
    for r in _rows(doc, "upload"):
        p, f = r["params"], r["figures"]
        rows.append([p["clients"], p["file_mb"], p["files_each"], f["mb"], f["seconds"],
                     f["mb_per_s"], f["upload_p50_s"], f["upload_max_s"], f["errors"],
                     f["rss_idle_mib"], f["rss_during_max_mib"], f["rss_during_mean_mib"],
                     f["vm_hwm_mib"], f["server_cores"]])
    if rows:
        parts.append("### Uploads (chatd, HTTP)\n\n" + _table(
            ["clients", "file MB", "files each", "MB sent", "s", "MB/s", "upload p50 s",
             "upload max s", "errors", "RSS idle MiB", "RSS max during MiB",
             "RSS mean during MiB", "VmHWM MiB", "server cores"], rows))
    rows = []
    for r in _rows(doc, "search"):
        p, f = r["params"], r["figures"]
        rows.append([f"{p['messages']:,}", "all", f["samples"], f["p50_ms"], f["p99_ms"],
                     f["max_ms"]])
        for kind, k in f.get("kinds", {}).items():
            rows.append(["", kind, k["samples"], k["p50_ms"], k["p99_ms"], k["max_ms"]])
    if rows:
        parts.append("### Search latency (chatd, one client over TCP)\n\n" + _table(
            ["messages", "query", "samples", "p50 ms", "p99 ms", "max ms"], rows))
    rows = []
    for r in _rows(doc, "search_send"):
        p, f = r["params"], r["figures"]
        rows.append(["with" if p.get("search_index") else "without",
                     "closed" if p.get("mode", "closed") == "closed"
                     else f"open {p.get('offered_per_s') or 0:g}/s",
                     f"{p['connections']}/{p['rooms']}", f["acked_per_s"], f["p50_ms"],
                     f["p99_ms"], f["server_cores"], f.get("pg_cores"),
                     f.get("mean_commit_ms"), f["server_cpu_ms_per_msg"],
                     f.get("fresh_p50_ms"), f.get("fresh_p99_ms"), f.get("fresh_max_ms"),
                     f.get("backlog_max")])
    if rows:
        parts.append("### Durable send with and without the search index\n\n"
                     + _table(["words + GIN index", "loop", "conns/rooms", "acked/s",
                               "p50 ms", "p99 ms", "server cores", "PG cores",
                               "mean commit ms", "server CPU ms/msg", "indexed after ack p50 ms",
                               "p99 ms", "max ms", "backlog max"], rows))
    scale = _rows(doc, "data_scale")
    if scale:
        from benchmarks.datascale import table

        parts.append("### Data scale (chatd, one client over TCP)\n\n" + table(scale))
    rows = []
    for r in _rows(doc, "commit_ceiling"):
        f = r["figures"]
        rows.append([f"asyncpg, {r['params']['mode']}", f"{f['batch']} rows/commit, "
                     f"{f['concurrency']} connections", f["rows_per_s"], f["commits_per_s"]])
    echo = _closed(doc, "echo")
    if echo:
        f = echo["figures"]
        rows.append(["trio NDJSON echo", f"{echo['params']['connections']} connections, "
                     f"window {echo['params']['window']}", f["acked_per_s"], None])
    if rows:
        parts.append("### Ceilings\n\n" + _table(["ceiling", "shape", "rows or replies/s",
                                                 "commits/s"], rows))
    rat = doc.get("ratios") or ratios(doc)
    lines = [f"- {k}: {v}" for k, v in rat.items()
             if k not in ("open_loop", "change_open_loop") and v is not None]
    lines += [f"- open loop at {row['offered_per_s']:g}/s: acked chatd/peer "
              f"{row['acked_chatd_over_peer']}, p99 chatd/peer {row['p99_chatd_over_peer']}"
              for row in rat.get("open_loop", [])]
    lines += [f"- change/send, open loop at {row['offered_per_s']:g}/s: acked "
              f"{row['acked_change_over_send']}, p50 {row['p50_change_over_send']}, p99 "
              f"{row['p99_change_over_send']}, server cores "
              f"{row['server_cores_change_over_send']}"
              for row in rat.get("change_open_loop", [])]
    if lines:
        parts.append("### Ratios\n\n" + "\n".join(lines))
    tgt = targets(doc)
    if tgt:
        parts.append("### Targets (issue 5)\n\n" + _table(["target", "measured", "verdict"],
                                                         [list(t) for t in tgt]))
    return "\n\n".join(parts)
