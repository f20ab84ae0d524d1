"""The key log's one pass (``scan_keylog``) finds exactly what the two line-by-line passes before it found (the
summary's, then the secret pairs'): on every bundled key log, and on hostile ones (odd whitespace, odd hex,
overlong lines, a last line without a newline, gzip, the bounds on line length and total text), read in chunks
of every size."""

from __future__ import annotations

import gzip
import random
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from pushscope.sources import keylog
from pushscope.sources.keylog import KNOWN_LABELS, KeyLog, keylog_lines, scan_keylog, summarize_keylog
from pushscope.sources.trial_keys import read_secret_pairs

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
CLIENT_LABELS = ("CLIENT_TRAFFIC_SECRET_0", "QUIC_CLIENT_TRAFFIC_SECRET_0")
SERVER_LABELS = ("SERVER_TRAFFIC_SECRET_0", "QUIC_SERVER_TRAFFIC_SECRET_0")


# --- the two passes as they were: the reference -----------------------------------------------------------

def old_lines(path: Path, max_line: int, limit: int) -> Iterator[tuple[int, str]]:
    opener = gzip.open if str(path).endswith(".gz") else open
    read = number = 0
    try:
        with opener(path, "rt", encoding="latin-1", newline="\n") as handle:
            while read < limit:
                line = handle.readline(max_line)
                if not line:
                    return
                number += 1
                read += len(line)
                while not line.endswith("\n") and read < limit:
                    more = handle.readline(max_line)
                    if not more:
                        break
                    read += len(more)
                    line = "#" + more
                line = line.strip()
                if line and not line.startswith("#") and len(line) < max_line:
                    yield number, line
            yield -1, ""
    except (OSError, EOFError, zlib.error):
        return


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return True


def old_summary(path: Path, max_line: int, limit: int) -> tuple[set[str], int, int]:
    randoms, lines, bad = set(), 0, 0
    for number, line in old_lines(path, max_line, limit):
        if number < 0:
            break
        lines += 1
        parts = line.split()
        if len(parts) == 3 and parts[0] in KNOWN_LABELS and _is_hex(parts[1]) and _is_hex(parts[2]):
            randoms.add(parts[1].lower())
        else:
            bad += 1
    return randoms, lines, bad


def old_pairs(path: Path, max_line: int, limit: int, max_pairs: int = 4096) -> list[tuple[str, int, bytes, bytes]]:
    clients: dict[str, tuple[int, bytes]] = {}
    servers: dict[str, bytes] = {}
    for number, line in old_lines(path, max_line, limit):
        parts = line.split()
        if len(parts) != 3 or parts[0] not in CLIENT_LABELS + SERVER_LABELS:
            continue
        try:
            client_random, secret = parts[1].lower(), bytes.fromhex(parts[2])
        except ValueError:
            continue
        if parts[0] in CLIENT_LABELS:
            clients.setdefault(client_random, (number, secret))
        else:
            servers.setdefault(client_random, secret)
    pairs = [(r, n, s, servers[r]) for r, (n, s) in clients.items() if r in servers]
    return pairs[-max_pairs:]


def assert_same_as_old(path: Path, max_line: int = keylog.MAX_LINE, limit: int = keylog.MAX_KEYLOG_TEXT) -> None:
    scan = scan_keylog(path)
    randoms, lines, bad = old_summary(path, max_line, limit)
    assert (scan.summary.client_randoms, scan.summary.lines, scan.summary.bad_lines) == (randoms, lines, bad)
    assert scan.secret_pairs == old_pairs(path, max_line, limit)
    assert list(keylog_lines(path)) == list(old_lines(path, max_line, limit))
    assert scan.truncated == (list(old_lines(path, max_line, limit))[-1:] == [(-1, "")])
    assert summarize_keylog(path) == scan.summary


# --- key logs ------------------------------------------------------------------------------------------------

BUNDLED = sorted(CAPTURES.glob("*.keys"))


def test_there_are_bundled_key_logs() -> None:
    assert len(BUNDLED) >= 20


@pytest.mark.parametrize("path", BUNDLED, ids=lambda path: path.name)
def test_bundled_key_logs_read_as_before(path: Path) -> None:
    assert_same_as_old(path)


def test_bundled_secret_pairs_are_the_trial_s(tmp_path: Path) -> None:
    path = CAPTURES / "h3-midstream.keys"
    pairs = read_secret_pairs(str(path))
    assert pairs and [(p.client_random, p.line, p.client, p.server) for p in pairs] == old_pairs(path, 4096, 1 << 30)


HEX = "0123456789abcdef"
ODD_SPACES = [" ", "  ", "\t", "\x0b", "\x0c", "\r", "\x1c", "\x1f", "\x85", "\xa0"]


def hostile_line(rng: random.Random, max_line: int) -> str:
    """One line of a key log, most of them valid, the others every way a line can be odd."""
    label = rng.choice(sorted(KNOWN_LABELS) + [*CLIENT_LABELS, *SERVER_LABELS] * 3
                       + ["CLIENT_RANDOMX", "#CLIENT_RANDOM", "client_random", "NOT A LABEL"])
    # Shorter than real ones (64 and 96 digits), so that lines are short of a MAX_LINE of 128.
    client_random = "".join(rng.choice(HEX) for _ in range(rng.choice([32, 32, 32, 31, 2])))
    if rng.random() < 0.4:  # a client random seen before: pairs, and later lines for a random already paired
        client_random = rng.choice(["ab", "cd", "ef", "01", "23", "45"]) * 16
    secret = "".join(rng.choice(HEX) for _ in range(rng.choice([48, 32, 48, 47, 1])))
    kind = rng.randrange(24)
    if kind == 0:
        client_random = client_random.upper()
    elif kind == 1:
        secret = "0x" + secret
    elif kind == 2:
        client_random = client_random[:10] + "_" + client_random[10:]
    elif kind == 3:
        secret = rng.choice("+-") + secret
    elif kind == 4:
        client_random = client_random[:5] + "zz" + client_random[5:]
    elif kind == 5:
        secret = secret[:7] + "\xe9" + secret[7:]
    elif kind == 6:
        return rng.choice(ODD_SPACES).join([label, client_random, secret])
    elif kind == 7:
        return rng.choice(ODD_SPACES) + f"{label} {client_random} {secret}" + rng.choice(ODD_SPACES)
    elif kind == 8:
        return "X" * rng.choice([max_line - 2, max_line - 1, max_line, max_line + 1, 3 * max_line + 5])
    elif kind == 9:
        return " " * rng.randrange(max_line - 60, max_line + 2) + f"{label} {client_random[:8]} {secret[:8]}"
    elif kind == 10:
        return rng.choice(["", "#", "# comment", "   ", "\r"])
    elif kind == 11:
        return f"{label} {client_random} {secret} extra"
    return f"{label} {client_random} {secret}"


def hostile_keylog(path: Path, seed: int, lines: int, max_line: int, *, last_newline: bool) -> Path:
    rng = random.Random(seed)
    text = "\n".join(hostile_line(rng, max_line) for _ in range(lines))
    # The same client random more than once: the first valid secret of each direction counts.
    text += "\n" + "\n".join(f"{label} {'12' * 16} {secret}" for label, secret in [
        ("CLIENT_TRAFFIC_SECRET_0", "123"), ("CLIENT_TRAFFIC_SECRET_0", "11" * 24), ("SERVER_TRAFFIC_SECRET_0", "zz"),
        ("SERVER_TRAFFIC_SECRET_0", "22" * 24), ("CLIENT_TRAFFIC_SECRET_0", "33" * 24)])
    # Every odd space between and around the parts of an otherwise valid line.
    text += "".join(f"\n{space}CLIENT_RANDOM{space}{'cd' * 16}{space}{'ef' * 24}{space}" for space in ODD_SPACES)
    text += "\n" + hostile_line(rng, max_line) + ("\n" if last_newline else "")
    data = text.encode("latin-1")
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("suffix", [".keys", ".keys.gz"])
def test_hostile_key_logs_read_as_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int,
                                         suffix: str) -> None:
    max_line = 128  # short lines: the overlong paths are taken often
    monkeypatch.setattr(keylog, "MAX_LINE", max_line)
    monkeypatch.setattr(keylog, "READ_CHUNK", [7, 64, 65, 1000][seed % 4])  # lines cut at every place
    path = hostile_keylog(tmp_path / f"k{suffix}", seed, 300, max_line, last_newline=seed % 2 == 0)
    assert_same_as_old(path, max_line=max_line)


def test_every_kind_of_line_is_in_the_hostile_logs(tmp_path: Path) -> None:
    path = hostile_keylog(tmp_path / "k.keys", 0, 300, 128, last_newline=True)
    randoms, lines, bad = old_summary(path, 128, 1 << 30)
    pairs = old_pairs(path, 128, 1 << 30)
    assert len(randoms) > 50 and bad > 50 and len(pairs) >= 3
    assert ("12" * 16, 302, bytes.fromhex("11" * 24), bytes.fromhex("22" * 24)) in pairs
    text = path.read_bytes().decode("latin-1")
    assert all(space in text for space in ODD_SPACES) and "X" * 129 in text and "0x" in text


@pytest.mark.parametrize("limit", [1, 127, 128, 500, 1777, 3000, 5001, 12000])
def test_total_text_bound_cuts_where_it_did(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    max_line = 128
    monkeypatch.setattr(keylog, "MAX_LINE", max_line)
    monkeypatch.setattr(keylog, "MAX_KEYLOG_TEXT", limit)
    monkeypatch.setattr(keylog, "READ_CHUNK", 100)
    for seed in range(8):
        path = hostile_keylog(tmp_path / f"k{seed}.keys", seed, 120, max_line, last_newline=seed % 2 == 0)
        assert_same_as_old(path, max_line=max_line, limit=limit)
        assert scan_keylog(path).truncated == (path.stat().st_size >= limit)


def test_overlong_line_at_the_bound_is_read_as_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The old reader kept the first MAX_LINE bytes of an overlong line that reaches the bound (when they are a
    line once stripped): so does the one pass."""
    max_line = 64
    monkeypatch.setattr(keylog, "MAX_LINE", max_line)
    line = f"CLIENT_RANDOM {'cd' * 8} {'ef' * 8}".ljust(max_line + 40, " ") + "tail"
    path = tmp_path / "k.keys"
    path.write_text(f"CLIENT_RANDOM {'ab' * 8} {'ab' * 8}\n{line}\n")
    for limit in range(30, 130):
        monkeypatch.setattr(keylog, "MAX_KEYLOG_TEXT", limit)
        assert_same_as_old(path, max_line=max_line, limit=limit)
    monkeypatch.setattr(keylog, "MAX_KEYLOG_TEXT", 60)  # the line starts at 48: its first 64 bytes reach 60
    assert "cd" * 8 in scan_keylog(path).summary.client_randoms


@pytest.mark.parametrize("padding", ["", " ", "x"])
@pytest.mark.parametrize("extra", [-1, 0, 1])
def test_last_line_of_max_length_without_newline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, padding: str,
                                                  extra: int) -> None:
    """A last line without a newline is read whole up to MAX_LINE bytes, and kept if shorter once stripped."""
    max_line = 128
    monkeypatch.setattr(keylog, "MAX_LINE", max_line)
    line = f"CLIENT_TRAFFIC_SECRET_0 {'ab' * 16} "
    line += "cd" * ((max_line + extra - len(line) - len(padding)) // 2) + "c" * ((max_line + extra - len(line)
                                                                                  - len(padding)) % 2) + padding
    assert len(line) == max_line + extra
    path = tmp_path / "k.keys"
    path.write_text(f"SERVER_TRAFFIC_SECRET_0 {'ab' * 16} {'ef' * 24}\n{line}")
    assert_same_as_old(path, max_line=max_line)


def test_missing_and_unreadable_key_logs(tmp_path: Path) -> None:
    missing = scan_keylog(tmp_path / "nowhere.keys")
    assert not missing.summary.exists and missing.secret_pairs == []
    broken = tmp_path / "broken.keys.gz"
    broken.write_bytes(gzip.compress(b"CLIENT_RANDOM " + b"ab" * 32 + b" " + b"cd" * 48 + b"\n" * 50)[:-12])
    scan = scan_keylog(broken)  # a gzip stream that breaks ends the lines, nothing raises
    assert scan.summary.exists and not scan.truncated
    assert scan_keylog(tmp_path).summary.exists is False  # a directory


def test_class_and_pass_agree(tmp_path: Path) -> None:
    path = hostile_keylog(tmp_path / "k.keys", 3, 200, keylog.MAX_LINE, last_newline=True)
    log = KeyLog(str(path))
    assert log.summary() == scan_keylog(path).summary
    assert sum(1 for entry in log.entries() if entry is not None) == scan_keylog(path).summary.lines - \
        scan_keylog(path).summary.bad_lines
