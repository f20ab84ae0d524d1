"""Network profiles: the named ones mean what the README says; custom ones parse, and nonsense is refused."""

from __future__ import annotations

import pytest

from pushscope.experiment.profiles import PROFILES, parse_profile, parse_profiles


def test_named_profiles_carry_their_documented_numbers() -> None:
    assert (PROFILES["cable"].rtt, PROFILES["cable"].down, PROFILES["cable"].up) == (0.028, 5e6, 1e6)
    assert (PROFILES["4g"].rtt, PROFILES["4g"].down, PROFILES["4g"].up) == (0.085, 9e6, 9e6)
    assert (PROFILES["3g"].rtt, PROFILES["3g"].down, PROFILES["3g"].up) == (0.3, 1.6e6, 0.768e6)
    assert PROFILES["lossy"].loss == 0.03
    assert not PROFILES["lan"].shaped and PROFILES["cable"].shaped


def test_custom_profile_parses_units() -> None:
    profile = parse_profile("rtt=100ms,down=5mbit,up=1mbit,loss=1%")
    assert (profile.rtt, profile.down, profile.up, profile.loss) == (0.1, 5e6, 1e6, 0.01)
    assert profile.name == "rtt=100ms,down=5mbit,up=1mbit,loss=1%"
    assert parse_profile("rtt=0.2s,down=512kbit").down == 512_000
    assert parse_profile("rtt=0.2s").up is None


def test_several_profiles_named_and_custom() -> None:
    profiles = parse_profiles("4g,3g,rtt=100ms,down=5mbit")
    assert [p.name for p in profiles] == ["4g", "3g", "rtt=100ms,down=5mbit"]
    assert len(parse_profiles("rtt=10ms;rtt=20ms")) == 2


@pytest.mark.parametrize("text", ["5g", "rtt=fast", "rtt=100ms,rtt=20ms", "loss=60%", "down=1bit", "rtt=1h",
                                  "speed=3mbit", "", "4g,4g"])
def test_nonsense_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_profiles(text)
