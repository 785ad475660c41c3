"""A worker that only serves the API stays small (issue 17: under 200 MiB after an hour): pandas and numpy,
~45 MiB of a worker, are loaded only by the pages that draw charts. A fresh interpreter builds the app,
reports a batch, polls for commands and calls every API route that takes no path parameter; then pandas
must still be unloaded."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from bench.ingest import make_batches
    from helicarrier.api.routes import ROUTES
    from helicarrier.config import load_settings
    from helicarrier.webapp import create_app

    tmp = Path({tmp!r})
    (tmp / "data").mkdir()
    settings = load_settings(database_url=f"sqlite:///{{tmp}}/api.db", data_dir=tmp / "data", secret_key="k")
    app = create_app(settings)
    ctx = app.server.config["HELICARRIER"]
    token, _ = ctx.repo.create_token("all", ["ingest", "read", "control", "admin"])
    client = app.server.test_client()
    auth = {{"Authorization": f"Bearer {{token}}"}}
    loaded_at_start = "pandas" in sys.modules
    answers = {{}}
    json_auth = {{**auth, "Content-Type": "application/json"}}
    r = client.post("/api/v1/ingest", data=make_batches(0, 1)[0], headers=json_auth)
    answers["POST /api/v1/ingest"] = r.status_code
    agent = json.loads(make_batches(0, 1)[0])["events"][0]["agent_id"]
    r = client.get(f"/api/v1/agents/{{agent}}/commands?wait=0", headers=auth)
    answers["GET commands"] = r.status_code
    for route in ROUTES:
        if route.method == "GET" and "<" not in route.path:
            answers[route.path] = client.get(route.path, headers=auth).status_code
    print(json.dumps({{"loaded_at_start": loaded_at_start, "answers": answers,
                      "pandas": "pandas" in sys.modules, "numpy": "numpy" in sys.modules}}))
    """
)


def test_the_api_path_never_loads_pandas(tmp_path):
    script = SCRIPT.format(root=str(ROOT), tmp=str(tmp_path))
    run = [sys.executable, "-c", script]
    done = subprocess.run(run, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    answers = seen["answers"]
    # The calls did their work: the batch stored, the reads answered (a route that failed early would
    # prove nothing about what its work imports).
    assert answers["POST /api/v1/ingest"] == 200
    assert answers["/api/v1/usage"] == 200 and answers["/api/v1/models/matrix"] == 200
    assert answers["/api/v1/sessions"] == 200 and answers["/api/v1/agents"] == 200
    assert len(answers) > 20
    assert not seen["loaded_at_start"]
    assert not seen["pandas"], "an API route loaded pandas"
    assert not seen["numpy"], "an API route loaded numpy"
