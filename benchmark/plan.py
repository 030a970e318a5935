"""From a RunConfig to the job grid: (dataset split) x method x seed, each with a stable key."""
from __future__ import annotations

import hashlib
import inspect
import sys
from dataclasses import asdict
from pathlib import Path

from benchmark.cache import stable_hash
from benchmark.config import RunConfig
from benchmark.methods import MethodSpec, lookup
from benchmark.runner import Job

DEFAULT_DATASETS = {"video": "synthetic-actions", "generative": "digits"}


PROJECT_ROOT = Path(__file__).resolve().parents[1]
# The harness code that turns data and a method's output into stored numbers (decoding, the embedded
# datasets, splits, the train/validation carve, metrics, memorisation checks): a change here reruns every job.
HARNESS_FILES = ("benchmark/runner.py", "benchmark/metrics.py", "benchmark/generative_suite.py",
                 "benchmark/memorisation.py", "benchmark/validation.py", "benchmark/data/video.py",
                 "benchmark/data/images.py", "benchmark/data/synthetic.py", "benchmark/data/datasets.py",
                 "benchmark/data/splits.py")


def code_version(spec: MethodSpec) -> str:
    """Hash of the source of the module defining the method and of the files it names.

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
    for path in sorted(files):
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:16]


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
