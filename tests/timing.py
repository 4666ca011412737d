"""A per-group timing table at the end of a pytest run: what each resource costs.

Every later change can say what it added to the suite ("+40 s of docker"), and CI's
budget is watched group by group. A test counts in each resource marker it has (see
tests/markers.py) and in `slow`; one with none of them is `other`. Seconds are the
test's own setup, call and teardown, summed over tests (so over xdist workers too: with
two workers they add up to about twice the wall time); `wall` is the whole run.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

import pytest

from tests.markers import TIMED, TIMED_PROPERTY


@dataclass
class Tally:
    tests: int = 0
    seconds: float = 0.0
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class TimingSummary:
    """The pytest plugin: collects test reports, writes the table in the summary."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.seconds: dict[str, float] = defaultdict(float)
        self.groups: dict[str, tuple[str, ...]] = {}
        self.outcome: dict[str, str] = {}

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # On the xdist controller these are the workers' reports; keywords survive.
        self.seconds[report.nodeid] += report.duration
        if report.nodeid not in self.groups:
            timed = dict(report.user_properties).get(TIMED_PROPERTY, "")
            self.groups[report.nodeid] = tuple(str(timed).split(",")) if timed else ("other",)
        if report.when == "call" or report.outcome != "passed":
            self.outcome.setdefault(report.nodeid, report.outcome)

    def table(self) -> dict[str, Tally]:
        tallies = {name: Tally() for name in (*TIMED, "other", "total")}
        for nodeid, seconds in self.seconds.items():
            for name in (*self.groups[nodeid], "total"):
                tally = tallies[name]
                tally.tests += 1
                tally.seconds += seconds
                tally.outcomes[self.outcome.get(nodeid, "passed")] += 1
        return tallies

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.seconds:
            return
        wall = time.monotonic() - self.started
        terminalreporter.section("time by group")
        terminalreporter.write_line(
            f"{'group':<10} {'tests':>6} {'seconds':>9} {'share':>6}  outcomes"
        )
        tallies = self.table()
        total = tallies["total"].seconds or 1.0
        for name, tally in tallies.items():
            if not tally.tests:
                continue
            outcomes = ", ".join(f"{n} {k}" for k, n in sorted(tally.outcomes.items()))
            terminalreporter.write_line(
                f"{name:<10} {tally.tests:>6} {tally.seconds:>9.1f} "
                f"{tally.seconds / total:>6.0%}  {outcomes}"
            )
        terminalreporter.write_line(
            f"a test counts in each group it is marked with; wall time {wall:.0f} s"
        )
