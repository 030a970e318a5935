"""The GAN settings tool scores candidates on the validation images and rejects what it cannot try."""
from __future__ import annotations

import re

from benchmark.tools.tune_sampler import main


def test_each_candidate_and_seed_is_scored_on_validation_images(capsys):
    assert main(["--method", "lsgan", "--seeds", "0,1", "--try", "generator_steps=2", "--try",
                 "generator_steps=3,lr=0.01"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "scored on 100 validation images" in lines[0]
    scored = [l for l in lines if re.search(r"seed \d: realistic \d+%, MMD\^2 -?\d\.\d{4}", l)]
    assert len(scored) == 4 and scored[2].startswith("generator_steps=3,lr=0.01")


def test_unknown_method_or_setting_is_one_line_error(capsys):
    for argv, message in ((["--method", "vae"], "valid: gan, wgan-gp, lsgan"),
                          (["--try", "steps=3"], "'steps' is not a setting")):
        try:
            code = main(argv)
        except SystemExit as exc:   # argparse's usage error
            code = exc.code
        assert code == 2 and message in capsys.readouterr().err
