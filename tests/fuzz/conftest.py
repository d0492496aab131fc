"""Hypothesis profiles of the fuzz harness (tests/fuzz/).

``fuzz-ci`` (the default, what ``make test`` runs): a bounded, derandomized number of examples per test,
so the run is deterministic and takes about a minute. ``fuzz`` (``make fuzz``, i.e. ``pytest tests/fuzz
--hypothesis-profile=fuzz``): many random examples. Only the fuzz tests use them (``harness.FUZZ``):
the other property tests of the suite keep their own settings, whatever profile is loaded.
"""

from datetime import timedelta

from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=timedelta(seconds=5), database=None, report_multiple_bugs=False,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.filter_too_much])

settings.register_profile("fuzz-ci", max_examples=40, derandomize=True, **_COMMON)
settings.register_profile("fuzz", max_examples=300, derandomize=False, **_COMMON)
