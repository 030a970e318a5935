"""Choose a GAN's settings on the validation images, never the test images.

    python -m benchmark.tools.tune_sampler --method wgan-gp --profile smoke --seeds 0,1 \
        --try generator_steps=200,lr=1e-3 --try generator_steps=400,lr=1e-3

Each candidate (the profile's row with ``--try`` overrides; none: the row as it stands) is fitted on the
training images for every seed; its samples are scored against the validation images with the CI gate's
figure (the share of samples no farther from the training set than 95% of the validation images are) and the
kernel two-sample distance MMD^2 that the reports show (benchmark/audits/memorisation.py).
"""
from __future__ import annotations

import time
from dataclasses import fields, replace

from benchmark.common.errors import UsageError, tool_main


def _overrides(text: str, types: dict) -> dict:
    out = {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        if key not in types:
            raise UsageError(f"--try: {key!r} is not a setting; valid: {', '.join(types)}")
        out[key] = types[key](value)
    return out


def add_arguments(parser) -> None:
    parser.add_argument("--method", default="gan", help="gan | wgan-gp | lsgan (default: gan)")
    parser.add_argument("--dataset", default="digits", help="image dataset (default: digits)")
    parser.add_argument("--profile", default="smoke", help="the settings row to start from (default: smoke)")
    parser.add_argument("--seeds", default="0,1", help="comma-separated training seeds (default: 0,1)")
    parser.add_argument("--try", dest="candidates", action="append", default=None, metavar="KEY=VALUE,...",
                        help="a candidate: overrides of the row; repeat for several")


def run(args) -> int:
    import torch

    from benchmark.audits.memorisation import nn_check_summary
    from benchmark.common.settings import settings_for
    from benchmark.data.images import load_image_dataset
    from benchmark.pipeline.generative_suite import SUITE, sized_profile
    from deep.generative.gan import PARAMS_BY_LOSS, GANParams, GANSampler

    if args.method not in PARAMS_BY_LOSS:
        raise UsageError(f"--method {args.method!r}; valid: {', '.join(PARAMS_BY_LOSS)}")
    torch.set_num_threads(1)
    data = load_image_dataset(args.dataset, args.profile, seed=0)
    profile = sized_profile(args.profile, data.dims)
    base, suite = settings_for(PARAMS_BY_LOSS[args.method], profile), settings_for(SUITE, profile)
    types = {f.name: (float if f.type in ("float", float) else int) for f in fields(GANParams)
             if f.name not in ("loss", "betas")}
    print(f"{args.method} on {data.name} ({profile} row), scored on {len(data.valid)} validation images")
    for text in args.candidates or [""]:
        params = replace(base, **_overrides(text, types))
        for seed in (int(s) for s in args.seeds.split(",")):
            start = time.perf_counter()
            model = GANSampler(params, seed=seed).fit(data.train, data.levels)
            seconds = time.perf_counter() - start
            samples = model.sample(suite.n_samples, seed + 1)
            metrics, _, _ = nn_check_summary(samples, data.train, data.valid, data.levels,
                                             n_cells=suite.n_cells, seed=seed)
            print(f"{text or '(row as is)':40s} seed {seed}: realistic {metrics['nn_realistic_frac']:.0%}, "
                  f"MMD^2 {metrics['mmd2_test']:.4f} (train images {metrics['mmd2_train_test']:.4f}), "
                  f"distinct nearest {metrics['nn_distinct_frac']:.0%}, {seconds:.1f} s", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    return tool_main("python -m benchmark.tools.tune_sampler", __doc__.splitlines()[0], add_arguments, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
