"""Whether the client of the request being served has hung up, for the command poll (issue 12).

An agent that dies or gives up while its long poll is held leaves the request running on the server: a
command arriving then would be marked delivered to nobody, and the agent's successor (or its retry) would
never receive it. gunicorn hands the view its client socket (``gunicorn.socket``); a peek that reads the
end of the stream says the client closed its side. Without gunicorn (the development server, the test
client) nothing is known, and the client is taken to be there.
"""

from __future__ import annotations

import socket
from typing import Any


def client_gone(environ: dict[str, Any]) -> bool:
    sock = environ.get("gunicorn.socket")
    if sock is None:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (BlockingIOError, InterruptedError):
        return False  # nothing to read: the client is still waiting for its answer
    except ValueError:
        return False  # a TLS socket takes no flags: unknown, so assumed there
    except OSError:
        return True  # reset by the peer, or closed
