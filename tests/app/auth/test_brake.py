"""The brake on password guessing, on a fake clock: free attempts, then doubling waits, per key."""

from __future__ import annotations

from app.auth.brake import LoginBrake


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def brake(clock: Clock) -> LoginBrake:
    return LoginBrake(free=3, base_s=2.0, max_s=60.0, clock=clock)


def test_free_attempts_then_doubling_waits_up_to_the_ceiling() -> None:
    clock = Clock()
    b = brake(clock)
    for _ in range(3):
        assert b.wait_s("sari", "10.0.0.1") == 0
        b.failed("sari", "10.0.0.1")
    assert b.wait_s("sari", "10.0.0.1") == 2.0
    clock.now += 2.0
    assert b.wait_s("sari", "10.0.0.1") == 0
    waits = []
    for _ in range(6):
        b.failed("sari", "10.0.0.1")
        waits.append(b.wait_s("sari", "10.0.0.1"))
        clock.now += waits[-1]
    assert waits == [4.0, 8.0, 16.0, 32.0, 60.0, 60.0]


def test_the_brake_is_per_username_and_client_and_a_success_releases_it() -> None:
    clock = Clock()
    b = brake(clock)
    for _ in range(3):
        b.failed("sari", "10.0.0.1")
    assert b.wait_s("sari", "10.0.0.1") > 0
    assert b.wait_s("sari", "10.0.0.2") == 0  # the user, from elsewhere
    assert b.wait_s("budi", "10.0.0.1") == 0  # another user, from the same client
    clock.now += 2.0
    b.succeeded("sari", "10.0.0.1")
    b.failed("sari", "10.0.0.1")
    assert b.wait_s("sari", "10.0.0.1") == 0


def test_one_client_trying_many_usernames_is_braked() -> None:
    clock = Clock()
    b = brake(clock)
    for i in range(12):  # 4 x free, each username only once
        assert b.wait_s(f"user{i}", "10.0.0.9") == 0
        b.failed(f"user{i}", "10.0.0.9")
    assert b.wait_s("someone-new", "10.0.0.9") == 2.0
    assert b.wait_s("someone-new", "10.0.0.8") == 0


def test_many_clients_guessing_one_username_are_braked() -> None:
    clock = Clock()
    b = brake(clock)
    for i in range(60):  # 20 x free, each client only once
        b.failed("admin", f"10.1.{i // 250}.{i % 250}")
    assert b.wait_s("admin", "192.168.1.1") == 2.0
    assert b.wait_s("sari", "192.168.1.1") == 0


def test_failures_are_forgotten_after_a_quiet_while() -> None:
    clock = Clock()
    b = brake(clock)
    for _ in range(10):
        b.failed("sari", "10.0.0.1")
    assert b.wait_s("sari", "10.0.0.1") == 60.0
    clock.now += 4 * 60.0 + 1
    assert b.wait_s("sari", "10.0.0.1") == 0
    b.failed("sari", "10.0.0.1")
    assert b.wait_s("sari", "10.0.0.1") == 0  # counting starts again
