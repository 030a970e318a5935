"""``benchmark.analysis.sizing``: the run design a target interval needs, bounded and simulated."""
from __future__ import annotations

from benchmark.analysis.coverage import Components, Design
from benchmark.analysis.sizing import fewest_seeds, meets, runs_lower_bound


def test_the_seed_bound():
    # (z_0.965 * 10.8 / 6)^2 = (1.812 * 1.8)^2 = 10.6: a row whose seeds spread by 10.8 points needs 11 runs
    assert runs_lower_bound(0.108, 0.06) == 11
    assert runs_lower_bound(0.0, 0.06) == 1
    assert runs_lower_bound(0.05, 0.06, coverage=0.5) == 1


def test_fewer_runs_than_the_bound_cannot_meet_the_target_and_more_can():
    """The bound says no where the simulation says no: 9 runs under a bound of 10 fail even with 40 test actors
    per split (test noise near nil), 24 runs meet it."""
    row = Components(p=0.5, seed_sd=0.10, actor_sd=0.0, videos_per_actor=20)
    assert runs_lower_bound(row.seed_sd, 0.06) == 10
    assert not meets(row, Design(3, 3, 40, 20), 0.06, n_sims=100)
    assert meets(row, Design(3, 8, 40, 20), 0.06, n_sims=100)


def test_fewest_seeds_is_the_first_that_meets():
    row = Components(p=0.6, seed_sd=0.08, actor_sd=0.05, videos_per_actor=20)   # bound 6 runs; simulated: 4 seeds
    seeds = fewest_seeds(row, splits=3, actors=12, half_width=0.06, n_sims=100)
    assert seeds is not None and seeds > 2
    assert meets(row, Design(3, seeds, 12, 20), 0.06, n_sims=100)
    assert not meets(row, Design(3, seeds - 1, 12, 20), 0.06, n_sims=100)


def test_a_target_no_design_reaches_is_said():
    beyond_the_bound = Components(p=0.5, seed_sd=0.20, actor_sd=0.0, videos_per_actor=20)   # 37 runs: 13 seeds
    assert fewest_seeds(beyond_the_bound, splits=3, actors=12, half_width=0.06, max_seeds=10) is None
    one_actor = Components(p=0.5, seed_sd=0.10, actor_sd=0.10, videos_per_actor=2)          # test noise
    assert fewest_seeds(one_actor, splits=3, actors=1, half_width=0.06, n_sims=20, max_seeds=5) is None


def test_sizing_of_a_stored_run_from_the_command_line(two_seed_smoke_run, capsys):
    from benchmark.analysis.sizing import main

    capsys.readouterr()
    assert main(["--out", str(two_seed_smoke_run), "--actors", "4", "--sims", "10"]) == 0
    text = capsys.readouterr().out
    row = [line for line in text.splitlines() if line.startswith("feature-histograms |")]
    assert len(row) == 1 and len(row[0].split("|")) == 6
    assert "min for its first (split, seed)" in text and "every row at 4 test actors:" in text


def test_sizing_prints_each_methods_seeds_and_that_designs_time(two_seed_smoke_run, capsys):
    """The per-method line: the widest row's seeds and, from the run's job minutes, the time of that design."""
    from benchmark.analysis.coverage import run_components
    from benchmark.analysis.designs import RunDesign, measure, projected_minutes
    from benchmark.analysis.sizing import main

    capsys.readouterr()
    # +-30 points: the smoke run's 40 test videos a split cannot reach +-6 with any number of seeds
    assert main(["--out", str(two_seed_smoke_run), "--actors", "4", "--sims", "10", "--half-width", "30"]) == 0
    [line] = [x for x in capsys.readouterr().out.splitlines() if x.startswith("seeds per method at 4 test actors")]
    [(row, c)] = run_components(str(two_seed_smoke_run)).items()
    seeds = fewest_seeds(c, 3, 4, 0.30, n_sims=10)
    assert seeds is not None
    _, measured = measure(str(two_seed_smoke_run))
    minutes = projected_minutes(RunDesign("d", "smoke", (1, 2, 3), seeds, ""), measured, (row,))
    assert f"(its widest row): {row} {seeds}; about {minutes:.0f} min" in line
