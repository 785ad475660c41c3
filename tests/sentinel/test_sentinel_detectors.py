"""Each detector on what agents really report (the HTTP API, both backends), and the working agent none of
them may flag."""

from __future__ import annotations

from tests.sentinel.looping import at, cycle, findings, report

OPENAI = {"provider": "openai", "model": "gpt-4.1"}


def post(api, events):
    resp = api.post({"version": "v2", "source": {"name": "detectors"}, "events": events})
    assert resp.status_code == 200, resp.get_json()


def event(api, kind, minutes, agent, session, data, n=[0]):  # noqa: B006 - a counter for unique ids
    n[0] += 1
    ts = at(api, minutes).isoformat()
    return {"id": f"d{n[0]}", "type": kind, "ts": ts, "agent_id": agent, "session_id": session, "data": data}


def usage(api, minutes, agent, session, tokens=900):
    data = {
        **OPENAI,
        "usage": {"prompt_tokens": tokens, "completion_tokens": 100, "total_tokens": tokens + 100},
    }
    return event(api, "usage", minutes, agent, session, data)


def log(api, minutes, agent, session, message):
    return event(api, "log", minutes, agent, session, {"level": "info", "message": message})


def test_a_working_agents_progress_lines_are_not_a_loop(sen):
    # Every step writes "step i/80: calling o3" and a tool call: one shape each, half of the lines each; for
    # longer than the no-output window, each line new in its details.
    session = report(sen, "worker", lines=0)
    lines = []
    for i in range(80):
        lines.append(log(sen, 0.1 + i * 0.15, "worker", session, f"step {i + 1}/80: calling o3"))
        lines.append(
            log(
                sen, 0.15 + i * 0.15, "worker", session, f"tool call read_file(q{i}.csv) -> ok in {40 + i} ms"
            )
        )
        lines.append(usage(sen, 0.16 + i * 0.15, "worker", session))
    post(sen, lines)
    for minute in (4.5, 12.1):
        cycle(sen, minute)
    assert findings(sen, agent="worker") == []


def test_tokens_burning_with_nothing_new_in_the_log(sen):
    session = report(sen, "burner", lines=0)
    events = [
        log(sen, 1, "burner", session, "reading the spec"),
        log(sen, 2, "burner", session, "drafting the fix"),
    ]
    events += [usage(sen, m, "burner", session) for m in range(3, 15)]
    events += [log(sen, m, "burner", session, "drafting  the fix") for m in (6, 9, 12)]  # nothing new
    post(sen, events)
    cycle(sen, 14.5)
    (f,) = findings(sen, agent="burner")
    assert (
        f["detector"] == "no_output"
        and f["evidence"]["tokens"] >= 9 * 1000
        and f["evidence"]["lines_in_window"] == 3
    )

    post(sen, [log(sen, 14.6, "burner", session, "fix drafted: 3 files changed")])  # something new: resolved
    cycle(sen, 14.7)
    assert findings(sen, agent="burner")[0]["state"] == "resolved"


def test_running_without_a_model_call(sen):
    session = report(sen, "mute", lines=2)
    post(sen, [usage(sen, 1, "mute", session)])
    cycle(sen, 15)  # 14 minutes since the last call: under the 15
    assert findings(sen, agent="mute") == []
    cycle(sen, 16.5)
    (f,) = findings(sen, agent="mute")
    assert f["detector"] == "silent" and f["evidence"]["quiet_s"] == 15 * 60 + 30


def test_a_session_far_past_its_task_kinds_p99(sen):
    # 20 triage sessions of about a minute each ended earlier; this one has run 4 minutes.
    history = []
    for i in range(20):
        sid = f"old-{i}"
        start, end = -20 + i * 0.5, -20 + i * 0.5 + 1
        history.append(event(sen, "session.start", start, "slow", sid, {**OPENAI, "task_kind": "triage"}))
        history.append(event(sen, "session.end", end, "slow", sid, {"status": "succeeded"}))
    post(sen, history)
    post(sen, [event(sen, "session.start", 0, "slow", "now", {**OPENAI, "task_kind": "triage"})])
    post(sen, [usage(sen, m, "slow", "now") for m in (1, 2, 3, 3.9)])
    post(sen, [event(sen, "agent.heartbeat", 0, "slow", None, {"status": "running"})])
    cycle(sen, 2.5)
    assert findings(sen, agent="slow") == []
    cycle(sen, 4)
    (f,) = findings(sen, agent="slow")
    assert (
        f["detector"] == "long_run"
        and f["evidence"]["sessions"] == 20
        and f["evidence"]["task_kind"] == "triage"
    )
    assert 55 <= f["evidence"]["p99_s"] <= 75 and f["evidence"]["runtime_s"] == 240
