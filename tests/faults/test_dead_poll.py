"""A command is never handed to an agent that has hung up (issue 12: nothing lost).

An agent's long poll is a request the server holds up to 30 s. When the agent dies or its own timeout is
shorter, the request goes on running on the server; a command issued then was marked delivered to nobody,
and the agent's next poll (or its restarted successor's) never received it. Against the real server
(gunicorn, as deployed), a client sends its poll and closes its sending side: the server reads the end of
the stream as the client gone, hands it nothing, and the command stays pending for the next poll."""

from __future__ import annotations

import socket

import orjson

from helicarrier.data.repository import Repository
from tests.deploy.test_two_instances import Instance, _batch
from tests.waiting import wait_for


def _hung_up_poll(port: int, agent: str, token: str, wait_s: int) -> dict:
    """Send a poll, close our sending side at once (what the server sees of a client that is gone), and
    read what the server answered into the void."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        request = (
            f"GET /api/v1/agents/{agent}/commands?wait={wait_s} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        )
        sock.sendall(request.encode())
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    return orjson.loads(body)


def test_a_command_waits_for_the_next_poll_when_the_agent_hung_up(db_url, tmp_path):
    repo = Repository.from_url(db_url)
    agent_token, _ = repo.create_token("fleet-host", "ingest")
    operator, _ = repo.create_token("operator", "control,read")
    server = Instance(db_url, tmp_path / "server")
    try:
        wait_for(server.ready, 40, "the server to answer /healthz")
        reported = server.request("POST", "/api/v1/ingest", _batch("atlas-01", "s1", 1, "a"), agent_token)
        assert reported[0] == 200, reported
        status, issued = server.request(
            "POST", "/api/v1/agents/atlas-01/tasks", {"task": "rebase onto main", "mode": "queue"}, operator
        )
        assert status == 201, issued
        command_id = issued["command"]["id"]

        # The poll whose client is gone finds the command pending, and leaves it so.
        assert _hung_up_poll(server.port, "atlas-01", agent_token, 20)["commands"] == []
        assert (
            server.request("GET", f"/api/v1/commands/{command_id}", token=operator)[1]["command"]["state"]
            == "pending"
        )

        # The agent's next poll (its restart) receives it.
        status, polled = server.request("GET", "/api/v1/agents/atlas-01/commands?wait=5", token=agent_token)
        assert status == 200 and [c["id"] for c in polled["commands"]] == [command_id], polled
    finally:
        server.stop()
        repo.dispose()
