"""timing.py's method on a clock the test controls: warm-up calls run but are not timed, each
timed call sits between two synchronisations, the median ignores one slow run where the mean
does not, and contenders take turns, one call each per round."""

import statistics

import pytest

from phase09 import timing


class FakeClock:
    """time.perf_counter stand-in: time moves only when a timed function says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(timing.time, "perf_counter", fake)
    return fake


def test_warmup_is_run_but_not_timed_and_every_call_is_synchronised(
        clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[str] = []
    monkeypatch.setattr(timing, "synchronize", lambda device: events.append("sync"))
    costs = iter([5.0, 5.0, 0.010, 0.011, 0.012, 0.040, 0.010])  # 2 slow warm-ups, 5 timed

    def work() -> None:
        events.append("call")
        clock.now += next(costs)

    times = timing.time_runs(work, repeats=5, warmup=2)
    assert times == pytest.approx([0.010, 0.011, 0.012, 0.040, 0.010])  # no warm-up in them
    calls = [i for i, event in enumerate(events) if event == "call"]
    assert len(calls) == 7, events  # 2 warm-up calls, then 5 timed ones
    for i in calls[2:]:  # each timed call sits between two synchronisations (an extra one
        assert events[i - 1] == "sync" and events[i + 1: i + 2] == ["sync"], events  # is harmless)


def test_the_median_ignores_one_slow_run_and_the_mean_does_not(clock: FakeClock) -> None:
    costs = iter([0.010, 0.010, 0.011, 0.011, 0.040])  # the notes' example, in seconds

    def work() -> None:
        clock.now += next(costs)

    times = timing.time_runs(work, repeats=5, warmup=0)
    assert statistics.median(times) == pytest.approx(0.011)
    assert statistics.mean(times) == pytest.approx(0.0164)
    assert timing.spread(times) == "10.00-40.00"
    costs = iter([0.5, 0.010, 0.010, 0.011, 0.011, 0.040])
    assert timing.median_time(work, repeats=5, warmup=1) == pytest.approx(0.011)


def test_contenders_take_turns_round_by_round(clock: FakeClock) -> None:
    order: list[str] = []

    def contender(name: str, seconds: float):
        def run() -> None:
            order.append(name)
            clock.now += seconds
        return run

    fns = {"A": contender("A", 0.001), "B": contender("B", 0.002), "C": contender("C", 0.003)}
    runs = timing.take_turns(fns, repeats=2, warmup=1)
    assert order == ["A", "B", "C"] * 3  # one warm-up round, then two timed rounds
    assert list(runs) == ["A", "B", "C"]
    assert runs["A"] == pytest.approx([0.001, 0.001])
    assert runs["B"] == pytest.approx([0.002, 0.002])
    assert runs["C"] == pytest.approx([0.003, 0.003])
