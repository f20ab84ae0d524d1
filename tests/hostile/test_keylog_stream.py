"""Key logs read as a stream: a large one is filtered to the capture's client randoms before tshark reads it,
overlong lines and gzip bombs stop at a bound, and unclaimed application secrets stay available for trials."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

from pushscope.pipeline import load_capture
from pushscope.sources.keylog import MAX_LINE, KeyLog

CAPTURES = Path(__file__).resolve().parents[2] / "captures"


def _noise_lines(count: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    labels = ("CLIENT_RANDOM", "CLIENT_TRAFFIC_SECRET_0", "SERVER_HANDSHAKE_TRAFFIC_SECRET")
    return "".join(f"{rng.choice(labels)} {rng.getrandbits(256):064x} {rng.getrandbits(384):096x}\n"
                   for _ in range(count))


def test_large_keylog_is_filtered_and_still_decrypts(tmp_path: Path) -> None:
    capture, keys = CAPTURES / "nginx-push-basic.pcapng", CAPTURES / "nginx-push-basic.keys"
    big = tmp_path / "big.keys"
    big.write_text(_noise_lines(12_000) + keys.read_text() + _noise_lines(12_000, seed=2))
    assert big.stat().st_size > 4 * 2**20
    reference = load_capture(str(capture), str(keys))
    filtered = load_capture(str(capture), str(big))
    assert [p.outcome for p in filtered.pushes] == [p.outcome for p in reference.pushes]
    assert len(filtered.exchanges) == len(reference.exchanges) > 0
    notes = [d.message for d in filtered.diagnostics if d.code == "keylog-filtered"]
    real_lines = sum(1 for line in keys.read_text().splitlines() if line and not line.startswith("#"))
    assert notes and f"{real_lines} lines kept" in notes[0]


def test_overlong_lines_and_unclaimed_secrets(tmp_path: Path) -> None:
    log = tmp_path / "k.keys.gz"
    claimed, unclaimed = "aa" * 32, "bb" * 32
    with gzip.open(log, "wt") as out:
        out.write("X" * (MAX_LINE * 50) + "\n")  # one overlong line: skipped without being held whole
        out.write(f"CLIENT_TRAFFIC_SECRET_0 {claimed} {'11' * 48}\n")
        out.write(f"CLIENT_TRAFFIC_SECRET_0 {unclaimed} {'22' * 48}\n")
        out.write(f"CLIENT_HANDSHAKE_TRAFFIC_SECRET {unclaimed} {'33' * 48}\n")
        out.write("not a key log line\n")
    keylog = KeyLog(str(log))
    summary = keylog.summary()
    assert summary.client_randoms == {claimed, unclaimed} and summary.bad_lines == 1
    assert list(keylog.unclaimed_application_secrets({claimed})) == [("CLIENT_TRAFFIC_SECRET_0", unclaimed, "22" * 48)]
    path, kept = keylog.for_tshark({claimed}, str(tmp_path))
    assert kept == 1 and Path(path).read_text() == f"CLIENT_TRAFFIC_SECRET_0 {claimed} {'11' * 48}\n"


def test_gzip_bomb_keylog_reads_in_bounded_memory(tmp_path: Path) -> None:
    import tracemalloc

    log = tmp_path / "bomb.keys.gz"
    with gzip.open(log, "wb", compresslevel=9) as out:
        chunk = b"#" * (1 << 20)
        for _ in range(40):  # 40 MiB of one comment line without a newline
            out.write(chunk)
    tracemalloc.start()
    summary = KeyLog(str(log)).summary()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert summary.lines == 0 and peak < 8 * 2**20
