"""The report's interval procedure, checked by simulation (``benchmark.coverage``)."""
from __future__ import annotations

import pytest

from benchmark.config import PROFILES
from benchmark.coverage import Design, simulate


def _quick_design(splits: int = 1, seeds: int = 1) -> Design:
    """The default quick run (``bench run``: split 1, one seed) on the profile's embedded dataset."""
    synthetic = PROFILES["quick"].synthetic
    return Design(splits=splits, seeds=seeds, test_actors=synthetic.test_groups_per_split,
                  videos_per_actor=10 * synthetic.clips_per_group)


def test_with_seed_variance_resampled_the_interval_covers():
    """3 splits x 3 seeds: the seed redraw puts training-seed variance into the interval (>= 93%)."""
    coverage, _ = simulate(_quick_design(splits=3, seeds=3), n_sims=200)
    assert coverage >= 0.93, coverage


def test_one_seed_cannot_carry_seed_variance():
    """Mutation check of the test above: with one seed per split the same procedure undercovers."""
    coverage, _ = simulate(_quick_design(splits=3, seeds=1), n_sims=200)
    assert coverage < 0.9, coverage


@pytest.mark.xfail(strict=True, reason="issue 11 item 2 is open: the default quick design (split 1, one seed, "
                                       "4 test actors) is not yet redesigned to +-6 points and 93% coverage")
def test_default_quick_design_is_tight_and_covers():
    coverage, half_width = simulate(_quick_design(), n_sims=200)
    assert coverage >= 0.93 and half_width <= 0.06, (coverage, half_width)
