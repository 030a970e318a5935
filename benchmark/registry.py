"""Plain dict registries, assembled from each method family's own dict. No decorators, no import magic.

To add a method: write its file with a ``MethodSpec`` in that family's dict; it shows up here.
"""
from __future__ import annotations

from benchmark.methods import MethodContext, MethodSpec
from benchmark.common.settings import settings_for


def _planted_copies(ctx: MethodContext):
    from benchmark.audits.planted_copies import STUDY, PlantedCopyStudy  # torch: imported by the job, not by `bench list`

    return PlantedCopyStudy(settings_for(STUDY, ctx.profile), seed=ctx.seed, device=ctx.device)


AUDITS: dict[str, MethodSpec] = {
    "planted-copies": MethodSpec(
        name="planted-copies", family="audit", modality="audit",
        description="power of the memorisation detectors on samples with known planted training copies",
        build=_planted_copies, code_files=("benchmark/audits/planted_copies.py", "benchmark/audits/memorisation.py")),
}


def _label_efficiency(ctx: MethodContext):
    from benchmark.studies.label_efficiency import STUDY, LabelEfficiencyStudy

    return LabelEfficiencyStudy(settings_for(STUDY, ctx.profile), seed=ctx.seed, device=ctx.device)


def _study_variants() -> tuple[str, ...]:
    fractions, classifiers = (0.01, 0.10, 1.0), ("scratch", "ae-probe", "ae-finetune", "vae-probe", "vae-finetune")
    return tuple(f"{c}-{f * 100:g}pct" for f in fractions for c in classifiers)


# studies run in the generative suite beside the models; their rows are results of a study, not of a model
STUDIES: dict[str, MethodSpec] = {
    "label-efficiency": MethodSpec(
        name="label-efficiency", family="study", modality="study",
        description="classifier from scratch vs encoder pre-trained without labels (AE, VAE), probed or "
                    "fine-tuned, at 1/10/100% of the labels",
        build=_label_efficiency, variants=_study_variants(),
        code_files=("benchmark/studies/label_efficiency.py", "deep/generative/pretraining.py")),
}


def video_methods() -> dict[str, MethodSpec]:
    from baselines.video.dt.method import DT_METHODS
    from baselines.video.histograms import HISTOGRAM_METHODS
    from deep.video.registry import VIDEO_MODELS

    return {**HISTOGRAM_METHODS, **DT_METHODS, **VIDEO_MODELS}


def density_methods() -> dict[str, MethodSpec]:
    from baselines.generative.density import DENSITY_BASELINES
    from deep.generative.registry import DENSITY_MODELS

    return {**DENSITY_BASELINES, **DENSITY_MODELS, **AUDITS, **STUDIES}


def methods_of(suite: str) -> dict[str, MethodSpec]:
    if suite == "video":
        return video_methods()
    if suite == "generative":
        return density_methods()
    raise ValueError(f"unknown suite {suite!r}; valid: video, generative")
