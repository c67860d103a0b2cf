"""Hypothesis profiles, loaded before the run starts (`-p tests.support.profiles` in pyproject's addopts):

- `ci` (the default): the same examples on every run (derandomized, no example database), so a failure in CI is one
  a rerun reproduces and a fresh clone runs exactly what CI ran;
- `explore`: five times the examples, random, remembered in `.hypothesis/` — for looking for new differences by
  hand: `./dev test --hypothesis-profile=explore tests/query_languages`.

Tests take their example counts from the loaded profile (`examples()`), scaled by what each costs."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

CI_EXAMPLES = 600
settings.register_profile("ci", max_examples=CI_EXAMPLES, derandomize=True, database=None, deadline=None,
                          suppress_health_check=list(HealthCheck))  # fmt: skip
settings.register_profile("explore", max_examples=CI_EXAMPLES * 5, derandomize=False, deadline=None,
                          suppress_health_check=list(HealthCheck))  # fmt: skip
settings.load_profile("ci")  # `--hypothesis-profile` loads another one after this


def examples(share: float = 1.0) -> int:
    """The loaded profile's example count, times `share` (for a check dearer than most)."""
    return max(1, int(settings.default.max_examples * share))
