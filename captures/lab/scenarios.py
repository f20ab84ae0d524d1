"""The scenario table: one entry per ``captures/NAME.{pcapng,keys,truth.json}`` triple."""

from __future__ import annotations

from dataclasses import dataclass, field

from .h2client import ClientOptions

ONE_LOAD = (("/index.html",),)
TWO_CONNECTIONS = (("/index.html",), ("/index.html",))


@dataclass(frozen=True)
class Scenario:
    name: str
    server: str  # key of servers.SERVERS
    description: str
    client: str = "h2client"  # "h2client" / "nghttp" / "curl"
    server_tls: bool = True
    server_options: dict = field(default_factory=dict)
    client_options: ClientOptions = field(default_factory=ClientOptions)
    # for the external clients
    paths: tuple[str, ...] = ("/index.html",)
    nghttp_upgrade: bool = False
    # Cut the capture after this page load (editcap -A), as if the capture had started later (see lab/cut.py).
    cut_after_load: int | None = None

    @property
    def transport(self) -> str:
        if self.client == "h2client":
            return self.client_options.transport
        if self.server_tls:
            return "tls"
        return "h2c-upgrade" if self.nghttp_upgrade else "h2c-prior-knowledge"


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        name="nginx-push-basic",
        server="nginx", server_options={"mode": "push"},
        description="nginx http2_push for / -> /style.css, /app.js (referenced) and /unused.js "
                    "(unreferenced); one page load of / over TLS 1.3.",
        client_options=ClientOptions(tls_version="1.3", connections=(("/",),)),
    ),
    Scenario(
        name="nginx-midstream",
        server="nginx", server_options={"mode": "push"},
        description="As nginx-push-basic (TLS 1.3), but the capture starts after the handshake, the HTTP/2 "
                    "preface and SETTINGS (cut at a quiet moment): only a trial of the key log's secrets opens it.",
        client_options=ClientOptions(tls_version="1.3", connections=(("/",),), settle=0.4),
    ),
    Scenario(
        name="nginx-preload-twoloads",
        server="nginx", server_options={"mode": "preload"},
        description="nginx http2_push_preload on + Link preload headers (/logo.png carries nopush and "
                    "must not be pushed); two loads of /index.html on one TLS 1.2 connection, so the "
                    "second load's pushes duplicate what the first delivered.",
        client_options=ClientOptions(tls_version="1.2", connections=(("/index.html", "/index.html"),)),
    ),
    Scenario(
        name="nginx-second-connection",
        server="nginx", server_options={"mode": "push"},
        description="nginx http2_push; the page is loaded on connection 0, then again on a new "
                    "connection (new TLS session) with the HTTP cache kept: connection 1's pushes "
                    "of /style.css and /app.js are cache-duplicated.",
        client_options=ClientOptions(tls_version="1.3", connections=TWO_CONNECTIONS),
    ),
    Scenario(
        name="nginx-cut-after-first-load",
        server="nginx", server_options={"mode": "push"},
        description="As nginx-second-connection, but the capture is cut with editcap after the first "
                    "load: only connection 0's closing records (no handshake) remain of it, so what the "
                    "client held is not in the capture and connection 1's pushes can only be unknown.",
        client_options=ClientOptions(tls_version="1.3", connections=TWO_CONNECTIONS),
        cut_after_load=0,
    ),
    Scenario(
        name="nginx-cut-mid-connection",
        server="nginx", server_options={"mode": "push"},
        description="Two loads of /index.html on one TLS 1.3 connection, the capture cut with editcap after "
                    "the first: the connection's handshake and its first load are gone (pushscope decrypts the "
                    "rest by trial), and the second load's header blocks refer to HPACK entries from before "
                    "the cut.",
        client_options=ClientOptions(tls_version="1.3", connections=(("/index.html", "/index.html"),)),
        cut_after_load=0,
    ),
    Scenario(
        name="nginx-cancel-cached",
        server="nginx", server_options={"mode": "push"},
        description="Like nginx-second-connection but the client resets (RST_STREAM CANCEL) every "
                    "push for a URL it holds fresh in its cache: the resets are on the wire.",
        client_options=ClientOptions(tls_version="1.3", connections=TWO_CONNECTIONS, cancel_cached=True),
    ),
    Scenario(
        name="h2o-casper-off",
        server="h2o", server_options={"casper": False},
        description="h2o pushes from Link preload headers (logo.png nopush); casper off; two "
                    "connections with cookies kept: connection 1 is pushed everything again.",
        client_options=ClientOptions(connections=TWO_CONNECTIONS, keep_cookies=True),
    ),
    Scenario(
        name="h2o-casper-on",
        server="h2o", server_options={"casper": True},
        description="As h2o-casper-off with http2-casper ON: the h2o_casper cookie set on the first "
                    "load is sent on connection 1, and h2o does not push again.",
        client_options=ClientOptions(connections=TWO_CONNECTIONS, keep_cookies=True),
    ),
    Scenario(
        name="apache-cancel",
        server="apache", server_options={"mode": "link"},
        description="apache mod_http2 H2Push from Header add Link; the client cancels the push of "
                    "/app.js with RST_STREAM(CANCEL) on receipt and requests it itself later.",
        client_options=ClientOptions(cancel_paths=("/app.js",)),
    ),
    Scenario(
        name="apache-rerequest",
        server="apache", server_options={"mode": "resource"},
        description="apache mod_http2 H2PushResource; the client ignores the promise of /style.css "
                    "and requests it itself (a push/request mismatch).",
        client_options=ClientOptions(rerequest_paths=("/style.css",)),
    ),
    Scenario(
        name="apache-no-store-304",
        server="apache", server_options={"mode": "link", "no_store": ("/app.js",)},
        description="apache mod_http2 pushing from Link headers, /app.js served with no-store; the page "
                    "is loaded on connection 0, then again on a new connection where the client revalidates "
                    "it (If-None-Match, 304) and, holding no copy of the no-store /app.js, fetches it again: "
                    "a new need, not evidence against connection 0's claimed push.",
        client_options=ClientOptions(connections=TWO_CONNECTIONS, revalidate=True),
    ),
    Scenario(
        name="apache-h2c-upgrade",
        server="apache", server_tls=False, server_options={"mode": "link", "mpm": "worker"},
        description="Cleartext: HTTP/1.1 GET /index.html with Upgrade: h2c, then HTTP/2; apache "
                    "pushes on the upgraded stream 1 (mpm_worker, see README).",
        client_options=ClientOptions(transport="h2c-upgrade"),
    ),
    Scenario(
        name="nghttpd-push",
        server="nghttpd",
        description="nghttpd -p/index.html=/style.css,/app.js,/unused.js over TLS; python client.",
        client_options=ClientOptions(),
    ),
    Scenario(
        name="nghttpd-h2c",
        server="nghttpd", server_tls=False,
        description="nghttpd --no-tls, h2c with prior knowledge; one load of /; python client.",
        client_options=ClientOptions(transport="h2c-prior-knowledge", connections=(("/",),)),
    ),
    Scenario(
        name="nghttpd-h2c-one-segment",
        server="nghttpd", server_tls=False,
        description="nghttpd --no-tls, h2c prior knowledge; the client requests / and /style.css in one "
                    "write, and nghttpd answers in one segment: the PUSH_PROMISE of /style.css is written "
                    "before the end of the client's own /style.css response, with the same timestamp.",
        client_options=ClientOptions(transport="h2c-prior-knowledge", connections=(("/",),),
                                     prefetch_paths=("/style.css",)),
    ),
    Scenario(
        name="nghttpd-h2c-nghttp",
        server="nghttpd", server_tls=False, client="nghttp", paths=("/",),
        description="nghttpd --no-tls with nghttp -nva (prior knowledge): nghttp downloads every "
                    "push and fetches the page's assets (not CSS url()s).",
    ),
    Scenario(
        name="curl-no-push",
        server="nginx", server_options={"mode": "push"}, client="curl",
        paths=("/index.html", "/style.css", "/app.js", "/logo.png", "/font.woff2"),
        description="curl --http2 against the nginx push config: curl sends SETTINGS_ENABLE_PUSH=0 "
                    "so nginx pushes nothing; curl fetches the page and its subresources on one "
                    "connection.",
    ),
)

BY_NAME = {s.name: s for s in SCENARIOS}
