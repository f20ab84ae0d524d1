"""URLs the capture cannot show fully never match another URL in the analysis."""

from __future__ import annotations

from pushscope.analysis.unreadable import url_key
from pushscope.model.entities import Exchange, Push


def _exchange(exchange_id: int, path: str | None) -> Exchange:
    exchange = Exchange(exchange_id, "t0", "h2", 1 + 2 * exchange_id)
    exchange.request_headers = [(":method", "GET"), (":scheme", "https"), (":authority", "a.test")]
    if path is None:
        exchange.unknown_fields = (":path",)
    else:
        exchange.request_headers.append((":path", path))
    return exchange


def test_two_unreadable_urls_are_different_keys_and_readable_ones_match() -> None:
    first, second = _exchange(0, None), _exchange(1, None)
    assert first.url == second.url == "https://a.test/<unknown path>"
    assert url_key(first) != url_key(second)
    assert url_key(_exchange(2, "/x.css")) == url_key(_exchange(3, "/x.css"))
    push = Push(0, "t0", "h2", 1, 2, 1.0, promise_headers=[(":authority", "a.test")]).with_rare(
        unknown_fields=(":path",))
    assert url_key(push) not in (url_key(first), url_key(second))
