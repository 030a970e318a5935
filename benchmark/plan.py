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


def code_version(spec: MethodSpec) -> str:
    """Hash of the source of the module defining the method and of any files it names."""
    files = {inspect.getsourcefile(spec.build)}
    for module_name in spec.code_files:
        module = sys.modules.get(module_name) or __import__(module_name, fromlist=["_"])
        files.add(inspect.getsourcefile(module))
    digest = hashlib.sha256()
    for path in sorted(f for f in files if f):
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
