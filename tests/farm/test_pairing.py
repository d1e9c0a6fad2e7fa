"""Pairing codes (farm/pairing.py): issued, redeemed once, expired, rate-limited.

A fake clock stands in for time, so "valid ten minutes" is checked without waiting.
"""

from __future__ import annotations

import re

import pytest

from flamenco_gui.farm import pairing
from flamenco_gui.farm.pairing import (
    ALPHABET,
    DEFAULT_TTL,
    FAIL_WINDOW,
    FAILS_PER_CLIENT,
    FAILS_TOTAL,
    MAX_LIVE,
    PairingCodes,
    RateLimited,
    normalize,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def codes(clock: Clock) -> PairingCodes:
    return PairingCodes(clock=clock)


def test_a_code_is_two_groups_of_four_unambiguous_characters(codes: PairingCodes) -> None:
    seen = {codes.issue().code for _ in range(200)}
    assert len(seen) == 200  # random, not a counter
    for code in seen:
        assert re.fullmatch(rf"[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}", code), code
    assert not set("01OIL") & set(ALPHABET)


def test_a_code_works_once(codes: PairingCodes) -> None:
    code = codes.issue().code
    assert codes.redeem(code, "10.0.0.5")
    assert not codes.redeem(code, "10.0.0.5")
    assert not codes.redeem(code, "10.0.0.6")


def test_case_dashes_and_spaces_do_not_matter(codes: PairingCodes) -> None:
    code = codes.issue().code
    typed = " " + code.lower().replace("-", " ") + " "
    assert normalize(typed) == code.replace("-", "")
    assert codes.redeem(typed, "10.0.0.5")


def test_a_code_expires_after_ten_minutes(codes: PairingCodes, clock: Clock) -> None:
    issued = codes.issue()
    assert issued.ttl == DEFAULT_TTL == 600
    assert issued.expires_at == clock.now + 600
    clock.now += 599
    still_good = codes.issue()  # issued later, redeemed within its own ten minutes
    clock.now += 1
    assert not codes.redeem(issued.code, "10.0.0.5")
    assert codes.redeem(still_good.code, "10.0.0.5")


def test_ttl_is_clamped(codes: PairingCodes) -> None:
    assert codes.issue(0).ttl == 1
    assert codes.issue(10**9).ttl == pairing.MAX_TTL


def test_wrong_expired_and_used_codes_look_the_same(codes: PairingCodes, clock: Clock) -> None:
    used = codes.issue(ttl=60).code
    assert codes.redeem(used, "a")
    expired = codes.issue(ttl=60).code
    clock.now += 61
    outcomes = {
        "wrong": codes.redeem("ABCD-EFGH", "a"),
        "used": codes.redeem(used, "a"),
        "expired": codes.redeem(expired, "a"),
        "malformed": codes.redeem("not a code at all!", "a"),
        "empty": codes.redeem("", "a"),
    }
    assert set(outcomes.values()) == {False}, outcomes


def test_failures_are_rate_limited_per_client(codes: PairingCodes, clock: Clock) -> None:
    good = codes.issue().code
    for _ in range(FAILS_PER_CLIENT):
        assert not codes.redeem("WRONG-CODE", "10.0.0.66")
    # Limited: not even the right code is looked at, so guessing cannot go on.
    with pytest.raises(RateLimited) as limited:
        codes.redeem(good, "10.0.0.66")
    assert 0 < limited.value.retry_after <= FAIL_WINDOW
    # Another machine is not punished for the guesser.
    other = codes.issue().code
    assert codes.redeem(other, "10.0.0.7")
    # After the window the guesser may try again, and the code is still there.
    clock.now += FAIL_WINDOW
    assert codes.redeem(good, "10.0.0.66")


def test_failures_from_many_addresses_are_limited_too(codes: PairingCodes) -> None:
    good = codes.issue().code
    for i in range(FAILS_TOTAL):
        assert not codes.redeem("WRONG-CODE", f"10.1.{i // 250}.{i % 250}")
    with pytest.raises(RateLimited):
        codes.redeem(good, "10.9.9.9")


def test_success_does_not_count_as_failure(codes: PairingCodes) -> None:
    for _ in range(FAILS_PER_CLIENT * 2):
        assert codes.redeem(codes.issue().code, "10.0.0.5")


def test_only_the_newest_codes_stay_live(codes: PairingCodes) -> None:
    first = codes.issue().code
    for _ in range(MAX_LIVE):
        codes.issue()
    assert codes.live == MAX_LIVE
    assert not codes.redeem(first, "10.0.0.5")


def test_live_counts_only_unexpired_unused_codes(codes: PairingCodes, clock: Clock) -> None:
    a = codes.issue(ttl=10).code
    codes.issue(ttl=100)
    assert codes.live == 2
    assert codes.redeem(a, "x")
    assert codes.live == 1
    clock.now += 100
    assert codes.live == 0
