"""How an outcome looks wherever it is shown: glyph, short label, meaning and colours, for the inspector and reports.

One table per property, keyed by ``Outcome``, so the text report, the HTML report and the inspector cannot drift
apart. No Textual and no plotly here: the inspector's styles are theme variable names, the reports' colours are
fixed hex values (a file has no theme).
"""

from __future__ import annotations

from pushscope.vocabulary import OUTCOMES, Outcome

__all__ = ["ATTENTION_RANK", "OUTCOMES", "OUTCOME_COLOURS", "OUTCOME_GLYPHS", "OUTCOME_MEANINGS", "OUTCOME_SHORT",
           "OUTCOME_STYLES", "glyph"]

OUTCOME_GLYPHS: dict[str, str] = {
    Outcome.USED: "✔",
    Outcome.WASTED: "✘",
    Outcome.CACHE_DUPLICATED: "◆",
    Outcome.UNKNOWN: "?",
}
# Where a line is short (legends, the summary bar).
OUTCOME_SHORT: dict[str, str] = {outcome: "cache-dup" if outcome == Outcome.CACHE_DUPLICATED else str(outcome)
                                 for outcome in OUTCOMES}
OUTCOME_MEANINGS: dict[str, str] = {
    Outcome.USED: "the page requested it and the push delivered it (saved a round trip)",
    Outcome.WASTED: "never requested, or arrived too late, or was reset: bytes spent for nothing",
    Outcome.CACHE_DUPLICATED: "the client already held it fresh in its cache: pushed again for nothing",
    Outcome.UNKNOWN: "the capture cannot tell (not decrypted, cut short, or analysis pending)",
}
# The inspector's: theme variables, never fixed colours, so outcomes read in light and dark themes alike.
OUTCOME_STYLES: dict[str, str] = {
    Outcome.USED: "$success",
    Outcome.WASTED: "$error",
    Outcome.CACHE_DUPLICATED: "$warning",
    Outcome.UNKNOWN: "$text-muted",
}
# The reports': fixed colours, readable on the HTML report's white page.
OUTCOME_COLOURS: dict[str, str] = {
    Outcome.USED: "#2e9d4f",
    Outcome.WASTED: "#d23c3c",
    Outcome.CACHE_DUPLICATED: "#e69522",
    Outcome.UNKNOWN: "#8a7fb0",
}
# Sorting by outcome puts what needs attention first; requests (no outcome) come last.
ATTENTION_RANK: dict[str | None, int] = {
    Outcome.WASTED: 0,
    Outcome.CACHE_DUPLICATED: 1,
    Outcome.UNKNOWN: 2,
    Outcome.USED: 3,
    None: 4,
}


def glyph(outcome: str | None) -> str:
    """The outcome's glyph; "?" for no outcome or a value this version does not know (an older report)."""
    return OUTCOME_GLYPHS.get(outcome or Outcome.UNKNOWN, "?")
