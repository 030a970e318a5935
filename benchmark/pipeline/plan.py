"""From a RunConfig to the run plan (methods, datasets, splits opened once) and the job keys of its grid."""
from __future__ import annotations

import hashlib
import inspect
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from benchmark.common.cache import Cache, stable_hash
from benchmark.data.datasets import DatasetSplit, open_split
from benchmark.methods import MethodSpec, lookup
from benchmark.pipeline.config import RunConfig
from benchmark.pipeline.moves import as_before_move, old_path
from benchmark.pipeline.runner import Job
from benchmark.registry import methods_of

DEFAULT_DATASETS = {"video": "synthetic-actions", "generative": "digits"}


PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The harness code that turns data and a method's output into stored numbers (decoding, the embedded
# datasets, splits, the train/validation carve, metrics, memorisation checks): a change here reruns every job.
HARNESS_FILES = ("benchmark/pipeline/runner.py", "benchmark/pipeline/metrics.py",
                 "benchmark/pipeline/generative_suite.py", "benchmark/audits/memorisation.py",
                 "benchmark/pipeline/validation.py", "benchmark/data/video.py", "benchmark/data/images.py",
                 "benchmark/data/synthetic.py", "benchmark/data/datasets.py", "benchmark/data/splits.py")


def code_version(spec: MethodSpec) -> str:
    """Hash of the source of the module defining the method, of the files it names and of the harness files.

    Each file is hashed as it read before the package move of issue 25 (``moves.as_before_move``): a pure move
    keeps the key, any other edit changes it.

    ``spec.code_files`` entries are paths relative to the project root ("deep/train.py") or module names.
    """
    files = {inspect.getsourcefile(spec.build), *(str(PROJECT_ROOT / f) for f in HARNESS_FILES)}
    for entry in spec.code_files:
        if entry.endswith(".py"):
            files.add(str(PROJECT_ROOT / entry))
        else:
            module = sys.modules.get(entry) or __import__(entry, fromlist=["_"])
            files.add(inspect.getsourcefile(module))
    missing = sorted(f for f in files if not f or not Path(f).is_file())
    if missing:   # a file that is not hashed would let its edits reuse stale results
        raise FileNotFoundError(f"code version of {spec.name}: listed source file(s) missing: {', '.join(missing)}")
    digest = hashlib.sha256()
    for path in sorted(files, key=_path_before_move):   # moved files hash as before the move: see moves.py
        digest.update(as_before_move(Path(path).read_bytes()))
    return digest.hexdigest()[:16]


def _path_before_move(path: str) -> str:
    try:
        return str(PROJECT_ROOT / old_path(Path(path).relative_to(PROJECT_ROOT).as_posix()))
    except ValueError:   # outside the project: never moved
        return path


def select_methods(registry: dict[str, MethodSpec], names: tuple[str, ...]) -> list[MethodSpec]:
    if not names:
        return list(registry.values())
    return [lookup(registry, name, "method") for name in names]


def job_key(job: Job, dataset_identity: str, version: str) -> str:
    return stable_hash({"job": asdict(job), "data": dataset_identity, "code": version}, length=20)


def suites_of(config: RunConfig) -> list[str]:
    return ["video", "generative"] if config.suite == "all" else [config.suite]


def dataset_of(config: RunConfig, suite: str) -> str:
    return config.dataset or DEFAULT_DATASETS[suite]


@dataclass(frozen=True)
class RunPlan:
    """What one ``bench run`` runs, decided once: the protocol guard, the disk estimate, the job grid and the
    executors all read this object (no step opens a dataset or a split of its own)."""
    config: RunConfig
    cache: Cache
    methods: Mapping[str, tuple[MethodSpec, ...]]   # suite -> its selected methods
    datasets: Mapping[str, str]                      # suite -> dataset name or folder
    splits: Mapping[int, DatasetSplit]               # video split -> the split as opened (not decoded)


def plan_run(config: RunConfig, cache: Cache) -> RunPlan:
    """The run plan of ``config``: each (dataset, split) of the video suite is opened here, once."""
    suites = suites_of(config)
    chosen = config.methods if config.suite != "all" else ()
    methods = {suite: tuple(select_methods(methods_of(suite), chosen)) for suite in suites}
    datasets = {suite: dataset_of(config, suite) for suite in suites}
    splits = ({split: open_split(datasets["video"], split, config.profile, cache, progress=True)
               for split in config.splits} if "video" in suites else {})
    return RunPlan(config, cache, MappingProxyType(methods), MappingProxyType(datasets), MappingProxyType(splits))
