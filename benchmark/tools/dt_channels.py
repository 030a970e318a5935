"""What each dense-trajectory channel can see on the embedded dataset: one split, one DT method, the quick profile's
data with any ``SyntheticParams`` changed (a still camera, a flat scene, upright objects).

    python -m benchmark.tools.dt_channels --split 1                        # the quick data as the run sees it
    python -m benchmark.tools.dt_channels --split 1 --camera 0             # the same videos from a still camera
    python -m benchmark.tools.dt_channels --split 1 --method idt-bow-svm --pose 0

It trains the method's quick settings on the split's training actors and prints, per row (traj, hog, hof, mbh,
combined): video hit@1 on the test actors, shape hit@1 (the predicted class draws the true class's object: the
most that appearance alone can reach is 60%, since the four motion pairs share their object), the appearance pair
(BallDrift vs BoxDrift, which differ by their object only) and the four motion pairs. Before that: the videos
without a trajectory and the share of trajectories that lie on the object (the track's mean position within 1.3
object radii of the object's mean centre over the track's frames) rather than on the background. One process, one
thread per library; the dataset, frames, flow and features are cached in ``--cache`` (default: the bench cache).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace

import numpy as np

APPEARANCE_PAIR = ("BallDrift", "BoxDrift")
ON_OBJECT_RADII = 1.3


def on_object_share(rows: np.ndarray, centres: np.ndarray, radius: float, track_length: int) -> float:
    """Share of trajectory rows (436 columns) whose mean position is within 1.3 radii of the object's mean centre
    over the track's L + 1 frames (header: column 0 is the track's last frame, columns 1-2 its mean x, y)."""
    if len(rows) == 0:
        return float("nan")
    last = rows[:, 0].astype(int)
    frames = np.clip(last[:, None] - np.arange(track_length + 1)[None, :], 0, len(centres) - 1)
    object_mean = centres[frames].mean(axis=1)
    return float(np.mean(np.hypot(*(rows[:, 1:3] - object_mean).T) <= ON_OBJECT_RADII * radius))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.tools.dt_channels", description=__doc__.split("\n")[0])
    parser.add_argument("--split", type=int, default=1, choices=(1, 2, 3))
    parser.add_argument("--method", default="dt-bow-svm", choices=("dt-bow-svm", "dt-fv-svm", "idt-bow-svm"))
    parser.add_argument("--seed", type=int, default=0, help="the method's seed (the data does not depend on it)")
    for name in ("camera", "clutter", "pose"):
        parser.add_argument(f"--{name}", type=float, default=None, help=f"SyntheticParams.{name} (quick: 1)")
    parser.add_argument("--cache", default=None, help="cache folder (default: $BENCH_CACHE or ~/.cache/cvbench)")
    args = parser.parse_args(argv)

    from benchmark.common.threads import pin_threads

    pin_threads(1)
    from baselines.video.dt.method import DenseTrajectoryMethod, config_for, video_features
    from benchmark.common.cache import Cache
    from benchmark.data import synthetic
    from benchmark.data.splits import read_ucf_layout
    from benchmark.data.video import VideoSet
    from benchmark.pipeline.config import PROFILES
    from benchmark.pipeline.metrics import pair_accuracy

    changed = {k: getattr(args, k) for k in ("camera", "clutter", "pose") if getattr(args, k) is not None}
    params = replace(PROFILES["quick"].synthetic, **changed)
    cache = Cache(args.cache)
    root = synthetic.ensure_dataset(params, cache.root, progress=False)
    lists = read_ucf_layout(root / "ucfTrainTestlist", args.split)

    def videoset(entries) -> VideoSet:  # decoded as the run decodes the embedded dataset (native size)
        return VideoSet(paths=tuple(root / e.relpath for e in entries), labels=np.array([e.label for e in entries]),
                        groups=np.array([e.group for e in entries]), class_names=lists.class_names, cache=cache)

    train, test = videoset(lists.train), videoset(lists.test)
    config = config_for("quick", idt=args.method == "idt-bow-svm", encoding="fisher" if args.method == "dt-fv-svm"
                        else "bow")
    method = DenseTrajectoryMethod(config, seed=args.seed, n_classes=train.n_classes).fit(train)
    scores = method.predict_scores(test)

    by_name = {c.name: c for c in synthetic.CLASSES}
    counts, shares = [], []
    for i, path in enumerate(test.paths):
        rows = video_features(test, i, config)
        cls = by_name[test.class_names[test.labels[i]]]
        group, clip = int(path.stem.split("_g")[1][:2]), int(path.stem.split("_c")[-1])
        centres, radius = synthetic.object_track(cls, group, clip, params)
        counts.append(len(rows))
        shares.append(on_object_share(rows, centres, radius, config.dt.track_length))
    counts = np.array(counts)
    print(f"{args.method}, quick data {changed or '(as run)'}, split {args.split}: {len(train)} training and "
          f"{len(test)} test videos; test videos without a trajectory: {int((counts == 0).sum())}; trajectories per "
          f"test video: min {counts.min()}, median {int(np.median(counts))}; on the object: "
          f"{100 * np.nanmean(shares):.0f}% (median over videos {100 * np.nanmedian(shares):.0f}%)")

    names = list(test.class_names)
    shape_of = np.array([by_name[n].shape for n in names])
    pairs = {"appearance": APPEARANCE_PAIR, **synthetic.PAIRS}
    print(f"{'row':9s} {'hit@1':>6s} {'shape':>6s} " + " ".join(f"{p:>14s}" for p in pairs) + "  unscorable")
    for variant, s in scores.items():
        pred = s.video.argmax(axis=1)
        hit = np.mean(pred == test.labels)
        shape_hit = np.mean(shape_of[pred] == shape_of[test.labels])
        accs = [pair_accuracy(s.video, test.labels, names.index(a), names.index(b)) for a, b in pairs.values()]
        print(f"{variant:9s} {100 * hit:6.1f} {100 * shape_hit:6.1f} " + " ".join(f"{100 * a:14.1f}" for a in accs)
              + f"  {len(s.unscorable)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
