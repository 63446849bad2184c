"""A pytest plugin that counts what a test run costs in syntheses: `make test-cost`.

Every `App.synth()` (and so every guard run and every cdk-nag pass) is counted and timed, by
the test file that caused it; the session fixtures' syntheses count where they are first used.
Printed at the end of the run, beside pytest's own durations.
"""

from __future__ import annotations

import collections
import os
import time

import aws_cdk as cdk

_COUNT: collections.Counter = collections.Counter()
_SECONDS: collections.Counter = collections.Counter()
_synth = cdk.App.synth


def _counted_synth(self, *args, **kwargs):
    start = time.perf_counter()
    try:
        return _synth(self, *args, **kwargs)
    finally:
        where = os.environ.get("PYTEST_CURRENT_TEST", "outside a test").split("::")[0]
        _COUNT[where] += 1
        _SECONDS[where] += time.perf_counter() - start


def pytest_configure(config):
    cdk.App.synth = _counted_synth


def pytest_terminal_summary(terminalreporter):
    total = sum(_COUNT.values())
    terminalreporter.write_sep("-", f"syntheses: {total} ({sum(_SECONDS.values()):.1f} s in App.synth)")
    for where, count in _COUNT.most_common():
        terminalreporter.write_line(f"{count:4d}  {_SECONDS[where]:6.1f} s  {where}")
