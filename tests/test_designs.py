"""Named run designs (``benchmark.analysis.designs``, ``bench run --design``, ``bench plan spreads``): the
confirmation design meets its target on the committed spreads, the check tells a design too small from one
large enough, and ``bench run --design`` runs (and resumes) as the same plain ``bench run`` would."""
from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from test_cli import bench

from benchmark.analysis import designs
from benchmark.analysis.coverage import Components, Design, run_components, simulate_row
from benchmark.analysis.designs import (DESIGNS, Measurement, MissingSpreads, RunDesign, check_design, job_minutes,
                                        projected_minutes, read_spreads, seeds_text, spreads_for,
                                        videos_per_test_actor, write_spreads)
from benchmark.analysis.check import collect
from benchmark.common.cache import Cache
from benchmark.pipeline import run as run_module
from benchmark.pipeline.config import PROFILES, RunConfig
from benchmark.pipeline.plan import plan_run
from benchmark.registry import methods_of

CONFIRM = DESIGNS["confirm"]
WIDE = Components(p=0.6, seed_sd=0.10, actor_sd=0.03, videos_per_actor=20)   # seeds spread by 10 points


def _measurement(profile: str = CONFIRM.spreads_profile, dataset: str = "synthetic-actions") -> Measurement:
    return Measurement(profile, dataset, (1, 2, 3), 3, overhead_minutes=2.0,
                       job_minutes=(("c3d", 1.0, 0.5), ("feature-histograms", 0.2, 0.1)),
                       machine="host (Linux x86_64, 2 cores)", commit="abc1234")


def test_the_committed_spreads_ship_with_the_installed_package():
    """`bench run --design confirm` reads them at run time, also where the package is not installed editable
    (tox installs a built wheel): they are package data, and every row of the design's methods has a spread."""
    components, measurement = spreads_for(CONFIRM)
    assert measurement.profile == CONFIRM.spreads_profile and len(measurement.splits) >= 2, measurement
    assert {row.split("/")[0] for row in components} >= {"c3d", "early-fusion", "two-stream", "dt-fv-svm"}


def test_the_confirmation_design_meets_the_target_on_the_committed_spreads():
    """Every measured row's 95% interval within +-6 points at >= 93% coverage (200 simulated runs a row), with the
    confirm profile's 40 test videos an actor."""
    components, _ = spreads_for(CONFIRM)
    failing = {row: check for row, check in check_design(CONFIRM, components, n_sims=200).items() if not check.ok}
    assert not failing, failing


def test_on_the_quick_profiles_test_set_the_same_seeds_miss_the_target():
    """The confirm profile's extra test clips are what the design needs: with quick's 20 test videos an actor,
    the same seeds leave rows wider than +-6."""
    components, _ = spreads_for(CONFIRM)
    on_quick = dataclasses.replace(CONFIRM, profile="quick")
    failing = [row for row, check in check_design(on_quick, components, n_sims=100).items() if not check.ok]
    assert len(failing) >= 5, failing


def test_too_few_seeds_fail_the_check_and_enough_pass():
    too_few = RunDesign("too-few", "quick", (1, 2, 3), 2, "")
    enough = RunDesign("enough", "quick", (1, 2, 3), 12, "")
    [few] = check_design(too_few, {"wide": WIDE}, n_sims=100).values()
    [many] = check_design(enough, {"wide": WIDE}, n_sims=100).values()
    assert not few.ok and few.half_width > 0.06, few
    assert many.ok and many.coverage >= 0.93 and many.half_width <= 0.06, many


def test_a_narrow_interval_that_undercovers_fails_the_check():
    """One seed per split cannot carry a 6-point seed spread: the interval is narrow enough but misses."""
    steady_test_set = Components(p=0.9, seed_sd=0.06, actor_sd=0.0, videos_per_actor=20)
    [check] = check_design(RunDesign("one-seed", "quick", (1, 2, 3), 1, ""), {"r": steady_test_set},
                           n_sims=100).values()
    assert check.half_width <= 0.06 and check.coverage < 0.93 and not check.ok, check


def test_the_check_simulates_the_profiles_test_actors():
    design = RunDesign("d", "paper", (1, 2), 3, "")
    [check] = check_design(design, {"wide": WIDE}, n_sims=20).values()
    actors = PROFILES["paper"].synthetic.test_groups_per_split   # 7: not the 4 of the smaller profiles
    videos = videos_per_test_actor("paper")                        # 10 classes x 4 clips, not the spreads' 20
    assert (actors, videos) == (7, 40)
    assert (check.coverage, check.half_width) == simulate_row(WIDE, Design(2, 3, actors, videos), 20)


def test_seeds_sized_per_method_are_what_the_check_simulates():
    """A design whose wide method runs 12 seeds meets the target where the same design at 2 seeds fails; rows of
    a method (method/variant) take its seeds."""
    apart = RunDesign("apart", "quick", (1, 2, 3), 2, "", method_seeds=(("wide", 12),))
    checks = check_design(apart, {"wide/variant": WIDE, "narrow": Components(0.9, 0.0, 0.0, 20)}, n_sims=100)
    assert checks["wide/variant"].ok and checks["narrow"].ok, checks
    [alone] = check_design(RunDesign("alone", "quick", (1, 2, 3), 2, ""), {"wide/variant": WIDE}, n_sims=100).values()
    assert not alone.ok
    assert (apart.seeds_of("wide"), apart.seeds_of("narrow"), apart.jobs(("wide", "narrow"))) == (12, 2, 3 * 14)


def test_projected_minutes_count_each_methods_first_seed_once():
    design = RunDesign("d", "quick", (1, 2, 3), 5, "", method_seeds=(("c3d", 2),))
    # outside the jobs 2.0; c3d: 3 splits x (1.0 + 1 x 0.5); feature-histograms: 3 x (0.2 + 4 x 0.1); lrcn unmeasured
    assert projected_minutes(design, _measurement(), ("c3d", "feature-histograms", "lrcn")) == \
        pytest.approx(2.0 + 4.5 + 1.8)


def test_a_runs_job_minutes_split_the_first_seed_from_the_later_ones(two_seed_smoke_run):
    jobs = collect([str(two_seed_smoke_run)])
    seconds = (pd.to_datetime(jobs["finished"]) - pd.to_datetime(jobs["started"])).dt.total_seconds() / 60
    [(method, first, later)] = job_minutes(jobs)
    assert method == jobs["method"].iloc[0]
    assert first == round(seconds[jobs["seed"] == 0].mean(), 3) and later == round(seconds[jobs["seed"] == 1].mean(), 3)


def test_a_run_trains_each_method_with_its_own_seeds(tmp_path):
    config = RunConfig(suite="video", dataset=None, splits=(1, 2), methods=("feature-histograms", "dt-bow-svm"),
                       profile="smoke", seeds=1, out=tmp_path / "out", device="cpu", executor="local", workers=1,
                       method_seeds=(("dt-bow-svm", 3),))
    tasks = run_module.plan_tasks(plan_run(config, Cache(tmp_path / "cache")))
    grid = sorted((t.job.method, t.job.split, t.job.seed) for t in tasks)
    assert grid == sorted([("feature-histograms", split, 0) for split in (1, 2)]
                          + [("dt-bow-svm", split, seed) for split in (1, 2) for seed in range(3)])


def test_spreads_are_read_back_as_written(tmp_path):
    rows = {"c3d": Components(0.4125, 0.112, 0.0531, 20, 0.63), "two-stream/spatial": Components(0.5, 0.054, 0.0, 20)}
    write_spreads(tmp_path / "quick-spreads.csv", rows, _measurement())
    assert (tmp_path / "quick-spreads.csv").read_text().splitlines()[0] == \
        "row,p,seed_sd,actor_sd,videos_per_actor,seed_share"
    assert read_spreads(tmp_path / "quick-spreads.csv") == (rows, _measurement())


def test_a_design_sized_on_a_profile_that_trains_otherwise_is_an_error():
    with pytest.raises(ValueError, match="sized on the smoke profile, which trains with other settings"):
        spreads_for(dataclasses.replace(CONFIRM, sized_on="smoke"))


def test_missing_or_mismatched_spreads_are_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(designs, "MEASUREMENTS", tmp_path)
    with pytest.raises(MissingSpreads,
                       match=r"no measured spreads .*`bench run --split all --seeds 3.*`bench plan spreads"):
        spreads_for(CONFIRM)
    write_spreads(tmp_path / f"{CONFIRM.spreads_profile}-spreads.csv", {"c3d": WIDE}, _measurement(dataset="ucf101"))
    with pytest.raises(ValueError, match="measured on ucf101"):
        spreads_for(CONFIRM)


def test_plan_spreads_writes_what_the_run_measured(two_seed_smoke_run, tmp_path):
    to = tmp_path / "smoke-spreads.csv"
    code, stdout, stderr = bench("plan", "spreads", "--out", str(two_seed_smoke_run), "--to", str(to))
    assert code == 0, stderr
    components, measured = read_spreads(to)
    [(row, c)] = run_components(str(two_seed_smoke_run)).items()
    assert components == {row: Components(*(round(v, 4) for v in (c.p, c.seed_sd, c.actor_sd)), c.videos_per_actor,
                                          round(c.seed_share, 4))}
    assert (measured.profile, measured.dataset, measured.splits, measured.seeds) == \
        ("smoke", "synthetic-actions", (1, 2, 3), 2)
    assert measured.job_minutes == job_minutes(collect([str(two_seed_smoke_run)])) and measured.commit
    assert 0 < measured.overhead_minutes < 5
    assert f"{to}: 1 rows of synthetic-actions, smoke profile" in stdout


# --- bench run --design ---------------------------------------------------------------------------------
@pytest.fixture
def spreads(tmp_path, monkeypatch):
    """Committed-looking spreads of two rows, in a scratch measurements folder."""
    monkeypatch.setattr(designs, "MEASUREMENTS", tmp_path / "measurements")
    rows = {"c3d": WIDE, "feature-histograms": Components(0.3, 0.01, 0.02, 20)}
    write_spreads(tmp_path / "measurements" / f"{CONFIRM.spreads_profile}-spreads.csv", rows, _measurement())
    return rows


@pytest.fixture
def configs(monkeypatch):
    """The RunConfig each `bench run` would run or dry-run, instead of running it."""
    seen = []

    def fake_run(config, argv):
        seen.append(config)
        raise SystemExit(0)
    monkeypatch.setattr(run_module, "run", fake_run)
    monkeypatch.setattr(run_module, "dry_run", lambda config: seen.append(config))
    return seen


def test_an_unknown_design_lists_the_valid_ones(tmp_path):
    code, stdout, stderr = bench("run", "--design", "nope", "--out", str(tmp_path))
    assert code == 2 and stdout == ""
    assert stderr == f"bench: error: unknown design 'nope'; valid: {', '.join(DESIGNS)}\n"


@pytest.mark.parametrize("option", [["--seeds", "2"], ["--profile", "smoke"], ["--split", "1"],
                                    ["--suite", "generative"], ["--dataset", "ucf101"], ["--validation"]])
def test_an_option_the_design_fixes_otherwise_is_an_error(tmp_path, configs, option):
    code, stdout, stderr = bench("run", "--design", "confirm", *option, "--out", str(tmp_path))
    assert code == 2 and stdout == "" and not configs
    assert stderr.startswith("bench: error: --design confirm runs") and f"drop {' '.join(option)}" in stderr
    assert stderr.count("\n") == 1


def test_dry_run_prints_the_design_its_time_and_coverage(tmp_path, spreads, configs):
    code, stdout, stderr = bench("run", "--design", "confirm", "--dry-run", "--out", str(tmp_path / "run"))
    assert code == 0, stderr
    methods = tuple(methods_of("video"))
    assert f"splits 1,2,3; seeds per split: {seeds_text(CONFIRM, methods)}; {CONFIRM.jobs(methods)} jobs" in stdout
    assert f"about {projected_minutes(CONFIRM, _measurement(), methods):.0f} min (2.0 min of it outside" in stdout
    assert (f"timed on the {CONFIRM.spreads_profile} profile's test set" in stdout) == \
        (CONFIRM.spreads_profile != CONFIRM.profile)
    rows = [line.split(" | ")[0] for line in stdout.splitlines() if " | " in line]
    assert rows == ["row", "c3d", "feature-histograms"]
    assert "not in the measurement (no projection): dt-bow-svm," in stdout
    [config] = configs
    assert (config.profile, config.splits, config.seeds, config.method_seeds) == \
        (CONFIRM.profile, CONFIRM.splits, CONFIRM.seeds, CONFIRM.method_seeds)
    assert not (tmp_path / "run").exists()


def test_without_spreads_the_design_says_so_and_still_runs(tmp_path, monkeypatch, configs):
    monkeypatch.setattr(designs, "MEASUREMENTS", tmp_path / "none")
    code, stdout, stderr = bench("run", "--design", "confirm", "--dry-run", "--out", str(tmp_path / "run"))
    assert code == 0, stderr
    assert "projected time and coverage: none, no measured spreads at" in stdout and len(configs) == 1


def test_the_design_runs_as_the_plain_command_would_with_its_seeds_per_method(tmp_path, monkeypatch, configs):
    monkeypatch.setattr(designs, "MEASUREMENTS", tmp_path / "none")
    out = str(tmp_path / "run")
    for argv in (["--design", "confirm"], ["--design", "confirm", "--profile", CONFIRM.profile, "--split", "all"],
                 ["--profile", CONFIRM.profile, "--split", "all", "--seeds", str(CONFIRM.seeds)]):
        with pytest.raises(SystemExit):
            bench("run", *argv, "--out", out)
    assert configs[0] == configs[1] == dataclasses.replace(configs[2], method_seeds=CONFIRM.method_seeds)


def test_without_a_design_the_defaults_stand(tmp_path, configs):
    with pytest.raises(SystemExit):
        bench("run", "--out", str(tmp_path))
    assert (configs[0].profile, configs[0].splits, configs[0].seeds) == ("quick", (1,), 1)


def test_a_design_run_resumes_a_plain_one(tmp_path, monkeypatch):
    """The design's jobs are the plain command's: the seed a plain run did is skipped, then every job is."""
    monkeypatch.setitem(DESIGNS, "tiny", RunDesign("tiny", "smoke", (1,), 1, "two seeds of split 1",
                                                   method_seeds=(("feature-histograms", 2),)))
    monkeypatch.setattr(designs, "MEASUREMENTS", tmp_path / "none")
    out = str(tmp_path / "run")
    common = ("--methods", "feature-histograms", "--out", out, "--workers", "1", "--device", "cpu")
    assert bench("run", "--profile", "smoke", *common)[0] == 0
    code, stdout, stderr = bench("run", "--design", "tiny", *common)
    assert code == 0 and "1 of 2 jobs already done" in stdout + stderr
    assert "design tiny: two seeds of split 1" in stdout and "seeds per split: 2 (feature-histograms); 2 jobs" in stdout
    code, stdout, stderr = bench("run", "--design", "tiny", *common)
    assert code == 0 and "2 of 2 jobs already done" in stdout + stderr
