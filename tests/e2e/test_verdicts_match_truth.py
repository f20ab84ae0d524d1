"""Every push in captures/ must get the verdict its recording client knows to be true. No skips."""

from __future__ import annotations

import pytest

from pushscope.pipeline import load_capture

from .truth import CAPTURES, compare_pushes, compare_requests, load_truth, scenarios

SCENARIOS = scenarios()


def _load(name: str):
    keys = CAPTURES / f"{name}.keys"
    return load_capture(str(CAPTURES / f"{name}.pcapng"), str(keys) if keys.exists() else None)


def test_captures_are_present() -> None:
    assert len(SCENARIOS) >= 10, f"expected the bundled captures, found {SCENARIOS}"


@pytest.mark.parametrize("name", SCENARIOS)
def test_push_verdicts_match_client_truth(name: str) -> None:
    capture = _load(name)
    truth = load_truth(CAPTURES / f"{name}.truth.json")
    problems, count = compare_pushes(capture, truth)
    assert not problems, f"{name}: {count} pushes in truth; disagreements:\n" + "\n".join(map(str, problems))


@pytest.mark.parametrize("name", SCENARIOS)
def test_requests_listed(name: str) -> None:
    capture = _load(name)
    truth = load_truth(CAPTURES / f"{name}.truth.json")
    problems = compare_requests(capture, truth)
    assert not problems, "\n".join(map(str, problems))


@pytest.mark.parametrize("name", SCENARIOS)
def test_no_error_diagnostics(name: str) -> None:
    capture = _load(name)
    truth = load_truth(CAPTURES / f"{name}.truth.json")
    undecrypted = {cid for cid, conn in capture.connections.items() if conn.decrypted is False}
    # Decrypted by trying the key log's secrets: the connection began before the capture.
    began_before = {cid for cid, conn in capture.connections.items()
                    if (conn.decrypted_how or "").startswith("trial")}
    if "cut_at" in truth:
        # Cut after the handshake on purpose: the whole connection is read without it.
        assert not undecrypted and began_before == set(capture.connections)
        assert not [d.message for d in capture.diagnostics if d.level != "info"]
        return
    if "cut" in truth:
        # Cut after a load on purpose: a connection is left without its handshake (the earlier load's, or the
        # very connection of the later load), and every later push names the traffic the capture lost.
        assert undecrypted | began_before
        assert capture.pushes
        assert all(any(e.kind == "unreadable-traffic" for e in push.evidence) for push in capture.pushes)
        assert {d.code for d in capture.diagnostics if d.level != "info"} <= {"not-decrypted", "tls-summary",
                                                                             "undecoded-conversation"}
        return
    errors = [d.message for d in capture.diagnostics if d.level != "info"]
    assert not errors
    assert not undecrypted
