"""The label-efficiency study: label draws, the encoders, the claims' test on known answers, and that
nothing it reports was fitted on the test labels."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from benchmark.data.images import load_image_dataset
from benchmark.registry import STUDIES
from benchmark.studies import label_efficiency as le
from deep.generative.pretraining import EncoderClassifier, EncoderParams, PretrainedEncoder, linear_probe

TINY = EncoderParams(channels=4, code=8, pretrain_epochs=2, finetune_steps=20)


@pytest.fixture(scope="module")
def digits():
    return load_image_dataset("digits", "smoke", 0)


def test_registry_variants_are_the_studys_rows():
    assert STUDIES["label-efficiency"].variants == le.VARIANTS


def test_labelled_subsets_are_stratified_and_hold_every_class():
    labels = np.repeat(np.arange(10), [50, 40, 30, 30, 30, 30, 30, 30, 30, 200])
    few = le.labelled_subset(labels, 0.01, [0, 10])
    assert np.array_equal(np.bincount(labels[few]), [1] * 9 + [2])     # 1% of each class, at least one
    tenth = le.labelled_subset(labels, 0.10, [0, 100])
    assert np.array_equal(np.bincount(labels[tenth]), [5, 4] + [3] * 7 + [20])
    assert np.array_equal(le.labelled_subset(labels, 1.0, 0), np.arange(len(labels)))
    assert not np.array_equal(few, le.labelled_subset(labels, 0.01, [1, 10]))   # a new draw per trial


def test_fine_tuning_starts_from_the_pretrained_encoder_and_leaves_it_unchanged(digits):
    encoder = PretrainedEncoder("vae", TINY, seed=1).fit(digits.train, digits.levels)
    before = {k: v.clone() for k, v in encoder.encoder_.state_dict().items()}
    untrained = EncoderClassifier(replace(TINY, finetune_steps=0), encoder, seed=1).fit(
        digits.train[:50], digits.train_labels[:50], digits.levels)
    for name, weight in untrained.net_[0].state_dict().items():
        assert torch.equal(weight, before[name])
    EncoderClassifier(TINY, encoder, seed=1).fit(digits.train[:50], digits.train_labels[:50], digits.levels)
    for name, weight in encoder.encoder_.state_dict().items():
        assert torch.equal(weight, before[name])


@pytest.mark.parametrize("kind", ["ae", "vae"])
def test_pretraining_lowers_its_loss(digits, kind):
    """The unlabelled objective (reconstruction; plus KL for the VAE) falls over the epochs."""
    encoder = PretrainedEncoder(kind, replace(TINY, pretrain_epochs=8), seed=0).fit(digits.train, digits.levels)
    assert encoder.history_[-1] < 0.8 * encoder.history_[0], encoder.history_


def test_predictions_never_see_the_test_labels(digits):
    shuffled = replace(digits, test_labels=np.random.default_rng(0).permutation(digits.test_labels))
    a = le.run_trial(digits, TINY, [0, 0], fractions=(0.1,))
    b = le.run_trial(shuffled, TINY, [0, 0], fractions=(0.1,))
    assert a.keys() == b.keys()
    for variant in a:
        assert a[variant][0] == b[variant][0] and np.array_equal(a[variant][1], b[variant][1])


def test_a_dataset_without_labels_is_refused(digits):
    with pytest.raises(ValueError, match="labels"):
        le.run_trial(replace(digits, train_labels=None), TINY, 0)


def _table(effects: dict[str, tuple[float, float]], trials: int = 4, images: int = 300, seed: int = 0) -> pd.DataFrame:
    """A correctness table whose variants are right with the given probability at 1% and 100%."""
    rng = np.random.default_rng(seed)
    index = pd.MultiIndex.from_product([[0], range(trials), [f"test/{i}" for i in range(images)]],
                                       names=["seed", "trial", "image"])
    columns = {}
    for classifier, (few, every) in effects.items():
        columns[le.variant_name(classifier, 0.01)] = (rng.random(len(index)) < few).astype(float)
        columns[le.variant_name(classifier, 1.0)] = (rng.random(len(index)) < every).astype(float)
    return pd.DataFrame(columns, index=index)


def _verdicts(effects) -> list[str]:
    return le.evaluate_claims({"toy": _table(effects)}, n_boot=1000)["verdict"].tolist()


def test_claims_decide_known_answers():
    # pre-training helps by 30 points at 1% of the labels and not at all with every label: supported
    helps_when_few = {"scratch": (0.4, 0.9), "ae-finetune": (0.7, 0.9), "vae-finetune": (0.7, 0.9),
                      "ae-probe": (0.7, 0.9)}
    assert _verdicts(helps_when_few) == ["supported"] * 3
    # the same gain everywhere: the differences in differences are not supported
    same_gain = {"scratch": (0.4, 0.6), "ae-finetune": (0.6, 0.8), "vae-finetune": (0.6, 0.8),
                 "ae-probe": (0.6, 0.8)}
    assert "supported" not in _verdicts(same_gain)[:2]
    # pre-training hurts when labels are few: contradicted
    hurts_when_few = {"scratch": (0.7, 0.9), "ae-finetune": (0.4, 0.9), "vae-finetune": (0.4, 0.9),
                      "ae-probe": (0.4, 0.9)}
    assert _verdicts(hurts_when_few) == ["contradicted"] * 3


def test_a_claim_whose_rows_are_missing_is_not_tested():
    verdicts = le.evaluate_claims({"toy": _table({"scratch": (0.5, 0.9), "ae-finetune": (0.8, 0.9)})}, n_boot=200)
    assert verdicts["verdict"].iloc[0] == "supported"
    assert all(v.startswith("not tested") for v in verdicts["verdict"].iloc[1:])


def test_the_job_writes_one_gateable_row_per_classifier_and_fraction(digits):
    from benchmark.common.timing import PhaseTimer

    study = le.LabelEfficiencyStudy(le.StudyParams(2, TINY), seed=3)
    outcome = study.run(digits, PhaseTimer())
    assert [r.variant for r in outcome.rows] == list(le.VARIANTS)
    for row in outcome.rows:
        assert row.metrics["trials"] == 2 and row.metrics["kind"] == le.STUDY_KIND
        assert len(row.predictions) == 2 * len(digits.test)
        correct = np.mean([p["pred"] == p["label"] for p in row.predictions])
        assert correct == pytest.approx(row.metrics["accuracy"])
        assert {p["label"] for p in row.predictions} == set(digits.test_labels.tolist())
