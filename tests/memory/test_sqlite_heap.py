"""A worker's SQLite connections share one bounded heap (issue 17: a worker under 200 MiB after an hour).

Each connection may cache 64 MB of pages; a gthread worker holds one per busy thread, and in an hour's soak a
worker grew to 500 MB as its caches filled. A fresh interpreter opens six connections through the app's
engine to a 40 MB file and has each read all of it: its resident memory must grow by well under what six
full caches take."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    sys.path.insert(0, {root!r})
    from sqlalchemy import text
    from helicarrier.data.engine import make_engine

    engine = make_engine("sqlite:///{db}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE blobs (id INTEGER PRIMARY KEY, body TEXT)")
        conn.exec_driver_sql(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40000) "
            "INSERT INTO blobs (body) SELECT printf('%.1000c', 'x') FROM n"
        )
    engine.dispose()
    engine = make_engine("sqlite:///{db}")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    held = [engine.connect() for _ in range(6)]  # six threads' connections, all checked out at once
    for conn in held:
        total = conn.execute(text("SELECT sum(length(body)) FROM blobs")).scalar_one()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({{"read": total, "grew_mib": (after - before) / 1024}}))
    """
)


def test_six_connections_reading_a_large_file_share_a_bounded_heap(tmp_path):
    script = SCRIPT.format(root=str(ROOT), db=str(tmp_path / "big.db"))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["read"] == 40_000_000  # each connection did read the whole file
    # Six caches of the whole file would be ~240 MB; the shared limit is 32 MB.
    assert seen["grew_mib"] < 80, seen
