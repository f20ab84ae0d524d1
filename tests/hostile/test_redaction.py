"""Redaction by header name: trimmed and lower-cased, the credential headers all covered, --redact adds more."""

from __future__ import annotations

from pushscope.http import redaction
from pushscope.http.redaction import REDACTED, redact_headers, redact_more


def test_names_are_trimmed_and_lower_cased() -> None:
    headers = [(" Cookie", "a=1"), ("SET-COOKIE2\t", "b=2"), ("Proxy-Authorization", "Basic x"),
               ("authorization", "Bearer y"), ("x-safe", "kept")]
    assert [value for _, value in redact_headers(headers)] == [REDACTED] * 4 + ["kept"]
    assert [value for _, value in redact_headers(headers, redact=False)][0] == "a=1"


def test_redact_adds_names() -> None:
    saved = set(redaction.REDACTED_HEADERS)
    try:
        redact_more([" X-Api-Key ", ""])
        assert redact_headers([("x-api-key", "secret"), ("X-API-KEY", "s2")]) == [["x-api-key", REDACTED],
                                                                                 ["X-API-KEY", REDACTED]]
    finally:
        redaction.REDACTED_HEADERS.clear()
        redaction.REDACTED_HEADERS.update(saved)
