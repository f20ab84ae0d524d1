"""The HTTP/3 scenario table: one entry per ``captures/NAME.{pcapng,keys,truth.json}`` triple."""

from __future__ import annotations

from dataclasses import dataclass, field

from .client import ClientOptions
from .server import ServerOptions

TWO_CONNECTIONS = (("/index.html",), ("/index.html",))


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    server_options: ServerOptions = field(default_factory=ServerOptions)
    client_options: ClientOptions = field(default_factory=ClientOptions)
    # Cut the capture at the client's ``cut_at`` (after the handshake): the connection is already established
    # when the capture starts, so only pushscope's own trial decryption can read it.
    cut_after_handshake: bool = False


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name="h3-push-claimed",
        description="aioquic pushes /style.css, /app.js and /unused.js with the page; the client claims the "
                    "two the page references from its push cache and never needs /unused.js.",
    ),
    Scenario(
        name="h3-cancel-push",
        description="The client sends CANCEL_PUSH for /app.js on its PUSH_PROMISE; the server (pushing 50 ms "
                    "after the promises) resets that push stream, and the client requests /app.js itself.",
        server_options=ServerOptions(push_delay=0.05),
        client_options=ClientOptions(cancel_paths=("/app.js",)),
    ),
    Scenario(
        name="h3-stop-sending",
        description="The client sends STOP_SENDING (H3_REQUEST_CANCELLED) on the push stream of /style.css; "
                    "the server answers with RESET_STREAM and the client requests /style.css itself.",
        server_options=ServerOptions(push_delay=0.05),
        client_options=ClientOptions(stop_paths=("/style.css",)),
    ),
    Scenario(
        name="h3-server-cancel",
        description="The server withdraws its own push of /app.js right after promising it: CANCEL_PUSH on "
                    "its control stream and a reset of the push stream; the client, which never got the push, "
                    "requests /app.js itself (the consequence of the withdrawal, not a mismatch).",
        server_options=ServerOptions(cancel_paths=("/app.js",)),
    ),
    Scenario(
        name="h3-push-not-authoritative",
        description="The server promises /unused.js for https://other.test, a host its certificate (127.0.0.1, "
                    "::1, localhost) does not name: the client must refuse it and sends CANCEL_PUSH; the other "
                    "pushes are claimed as usual.",
        server_options=ServerOptions(foreign_paths=("/unused.js",)),
    ),
    Scenario(
        name="h3-two-connections",
        description="The page is loaded on connection 0, then again on a new connection with the HTTP cache "
                    "kept: connection 1's pushes of /style.css and /app.js are cache-duplicated.",
        client_options=ClientOptions(connections=TWO_CONNECTIONS),
    ),
    Scenario(
        name="h3-cancel-cached",
        description="As h3-two-connections, but on connection 1 the client sends CANCEL_PUSH for every push "
                    "of a URL it holds fresh; the server (pushing 50 ms later) resets those push streams.",
        server_options=ServerOptions(push_delay=0.05),
        client_options=ClientOptions(connections=TWO_CONNECTIONS, cancel_cached=True),
    ),
    Scenario(
        name="h3-midstream",
        description="The capture starts after the handshake (cut at a quiet moment): the page and a second page "
                    "are loaded on the established connection, with a key update between the loads.",
        client_options=ClientOptions(connections=(("/index.html", "/page2.html"),), settle=0.4,
                                     between_pages=("key-update",)),
        cut_after_handshake=True,
    ),
    Scenario(
        name="h3-migration",
        description="The page is loaded, then the client moves to a new UDP port and connection ID and loads a "
                    "second page on the same connection.",
        client_options=ClientOptions(connections=(("/index.html", "/page2.html"),), between_pages=("migrate",)),
    ),
)

BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}
