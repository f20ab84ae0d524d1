"""What the waterfall's search looks in: per exchange, its URL and header lines, each distinct text kept once.

A resource fetched on every connection has the same URL and the same header lines (bar a date): the 260,000
exchanges of a 306 MB benchmark capture have 1,872 distinct texts. Kept as one string per exchange they cost as much
as the rows (about 450 bytes an exchange); kept once each, with a 4-byte number per exchange, they cost little more
than the numbers, and a search looks in each distinct text once, not in each row's. No Textual here.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence

from pushscope.http.redaction import redact_headers
from pushscope.model.entities import Capture, Exchange
from pushscope.safe_text import visible

SEARCH_TEXT_LIMIT = 4096  # header text kept per row for search: bounded, whatever a header holds
_ABSENT = 0  # the number of "no text" (texts[0] is a placeholder; an empty text has a number of its own)
NUMBER = "I"  # array type of the numbers: 4 bytes, up to 4 billion distinct texts
# Texts made for (URL, request header list, response header list) objects already seen: bounded, it starts over.
_MADE_LIMIT = 1 << 16


class SearchTexts(Mapping[int, str]):
    """Per exchange id, the text the search looks in (see ``search_texts``); reads as a dict of them."""

    __slots__ = ("_texts", "_numbers", "_count")

    def __init__(self, texts: Sequence[str], numbers: array) -> None:
        """``texts``: the distinct texts after ``texts[0] == ""`` (none); ``numbers[exchange id]``: its text's index,
        0 for none."""
        if not texts or texts[0] != "" or numbers.typecode != NUMBER:
            raise ValueError("not search texts")
        if numbers and max(numbers) >= len(texts):
            raise ValueError("search texts numbered past their end")
        self._texts = list(texts)
        self._numbers = numbers
        self._count = len(numbers) - numbers.count(_ABSENT)

    @property
    def distinct(self) -> list[str]:
        """Every distinct text, after the placeholder "" of "none" (``texts[0]``)."""
        return self._texts

    @property
    def numbers(self) -> array:
        return self._numbers

    def __getitem__(self, exchange_id: int) -> str:
        number = self._number(exchange_id)
        if number == _ABSENT:
            raise KeyError(exchange_id)
        return self._texts[number]

    def _number(self, exchange_id: int) -> int:
        numbers = self._numbers
        return numbers[exchange_id] if type(exchange_id) is int and 0 <= exchange_id < len(numbers) else _ABSENT

    def __iter__(self) -> Iterator[int]:
        return (exchange_id for exchange_id, number in enumerate(self._numbers) if number != _ABSENT)

    def __len__(self) -> int:
        return self._count

    def __contains__(self, exchange_id: object) -> bool:
        return type(exchange_id) is int and self._number(exchange_id) != _ABSENT

    def finder(self, needle: str) -> Callable[[int], bool]:
        """Whether an exchange's text holds ``needle`` (lower case): each distinct text searched once, here."""
        hits = bytearray(len(self._texts))
        for number, text in enumerate(self._texts):
            if number != _ABSENT and needle in text:
                hits[number] = 1
        number_of = self._number
        return lambda exchange_id: hits[number_of(exchange_id)] == 1

    def __repr__(self) -> str:
        return f"SearchTexts({len(self)} exchanges, {len(self._texts) - 1} distinct texts)"


def search_texts(capture: Capture) -> SearchTexts:
    """Per exchange id, what the search looks in. Built once, after the last snapshot (see
    ``CaptureView.search_texts``), not for every snapshot nor before the rows are shown: each text made costs about
    what a row does (at 306 MB, 3.1 s for every text against 3.5 s for the rows), and a compacted model's shared
    header lists let most be skipped (0.6 s)."""
    push_urls = {p.exchange_id: p.url for p in list(capture.pushes) if p.exchange_id is not None}
    exchanges = list(capture.exchanges)
    texts = [""]
    numbered: dict[str, int] = {}
    # Equal header lists are one list in a compacted model: made of the same objects, the text is the same. (Every
    # exchange is alive during this call, so no object's id is reused in it.)
    made: dict[tuple[str, int, int], int] = {}
    numbers = array(NUMBER, [_ABSENT]) * (max((e.id for e in exchanges), default=-1) + 1)
    for exchange in exchanges:
        if exchange.id < 0:
            continue
        url = visible(exchange.url or push_urls.get(exchange.id, ""))
        made_of = (url, id(exchange.request_headers), id(exchange.response_headers))
        number = made.get(made_of)
        if number is None:
            text = _search_text(url, exchange)
            number = numbered.get(text)
            if number is None:
                number = numbered[text] = len(texts)
                texts.append(text)
            if len(made) >= _MADE_LIMIT:
                made.clear()
            made[made_of] = number
        numbers[exchange.id] = number
    return SearchTexts(texts, numbers)


def _search_text(url: str, exchange: Exchange) -> str:
    """What the search looks in: the URL and every header line (redacted values stay redacted), bounded. The
    lines keep their line breaks (a search is one line: it never matches across them, nor their escapes)."""
    values = [url]
    for headers in (exchange.request_headers, exchange.response_headers):
        values += (f"{name}: {value}" for name, value in redact_headers(headers))
    return visible("\n".join(values)[:SEARCH_TEXT_LIMIT], keep="\n").lower()
