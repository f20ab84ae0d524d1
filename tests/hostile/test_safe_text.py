"""The one terminal-safety function: no control character from outside ever passes through."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pushscope.safe_text import has_unsafe, visible, visible_bytes, visible_lines


def test_escape_and_osc52_become_visible() -> None:
    hostile = "\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b[2J/index.html"
    shown = visible(hostile)
    assert "\x1b" not in shown and "\x07" not in shown
    assert shown == "\\x1b]52;c;ZWNobyBwd25lZA==\\x07\\x1b[2J/index.html"


def test_c1_del_and_bidi_are_escaped() -> None:
    assert visible("a\x9bb\x7fc\u202ed\u2066e") == "a\\x9bb\\x7fc\\u202ed\\u2066e"


def test_newlines_escaped_unless_kept() -> None:
    assert visible("a\nb\tc") == "a\\x0ab\\x09c"
    assert visible("a\nb\tc", keep="\n") == "a\nb\\x09c"
    assert visible_lines("a\nb\tc\x1b") == "a\nb\tc\\x1b"


def test_plain_text_is_returned_as_is() -> None:
    text = "https://example.test/α/β.css?q=1"
    assert visible(text) is text
    assert visible(None) == ""
    assert visible(42) == "42"


def test_bytes_that_are_not_utf8() -> None:
    assert visible_bytes(b"/a\xff\x1b") == "/a\\xff\\x1b"


@given(st.text())
def test_no_control_character_survives(text: str) -> None:
    shown = visible(text)
    assert not has_unsafe(shown)
    assert all(ch >= " " and not ("\x7f" <= ch < "\xa0") for ch in shown)


@given(st.text())
def test_kept_newlines_are_the_only_control_left(text: str) -> None:
    shown = visible_lines(text)
    assert not has_unsafe(shown.replace("\n", "").replace("\t", ""))
