"""Video metrics computed by the harness from the scores a method returns."""
from __future__ import annotations

import numpy as np

from benchmark.methods import Scores


def _topk_hits(scores: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    k = min(k, scores.shape[1])
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return (top == labels[:, None]).any(axis=1)


def mean_class_accuracy(pred: np.ndarray, labels: np.ndarray, n_classes: int) -> float:
    per_class = [np.mean(pred[labels == c] == c) for c in range(n_classes) if np.any(labels == c)]
    return float(np.mean(per_class))


def confusion(pred: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    matrix = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(matrix, (labels, pred), 1)
    return matrix


def pair_accuracy(scores: np.ndarray, labels: np.ndarray, a: int, b: int) -> float:
    """Accuracy of choosing between classes a and b on the videos of a or b (0.5 = chance)."""
    mask = (labels == a) | (labels == b)
    if not mask.any():
        return float("nan")
    choose_a = scores[mask, a] >= scores[mask, b]
    return float(np.mean(choose_a == (labels[mask] == a)))


def tied_top(video: np.ndarray) -> np.ndarray:
    """Per video: its top score is shared by two or more classes (the argmax is then a tie-break)."""
    if video.size == 0:
        return np.zeros(len(video), bool)
    return (video == video.max(axis=1, keepdims=True)).sum(axis=1) > 1


def video_metrics(scores: Scores, labels: np.ndarray, n_classes: int,
                  pairs: dict[str, tuple[int, int]] | None = None) -> dict:
    video = np.asarray(scores.video, dtype=np.float64)
    if video.shape != (len(labels), n_classes):
        raise ValueError(f"scores have shape {video.shape}, expected {(len(labels), n_classes)}")
    if not np.all(np.isfinite(video)):
        raise ValueError("scores contain NaN or infinity")
    pred = video.argmax(axis=1)
    out = {
        "video_hit1": float(np.mean(pred == labels)),
        "video_hit5": float(np.mean(_topk_hits(video, labels, 5))),
        "mean_class_acc": mean_class_accuracy(pred, labels, n_classes),
        "n_videos": int(len(labels)),
        # reported, never hidden: hit@1 of these videos comes from tie-breaking, not from the method
        "n_unscorable": int(len(scores.unscorable)),
        "n_tied_top": int(tied_top(video).sum()),
        "confusion": confusion(pred, labels, n_classes).tolist(),
    }
    if scores.clips is not None:
        clip_labels = np.concatenate([np.full(len(c), y) for c, y in zip(scores.clips, labels)])
        clip_pred = np.concatenate([np.asarray(c).argmax(axis=1) for c in scores.clips])
        out["clip_hit1"] = float(np.mean(clip_pred == clip_labels))
        out["n_clips"] = int(len(clip_labels))
    for name, (a, b) in (pairs or {}).items():
        out[f"pair_acc_{name}"] = pair_accuracy(video, labels, a, b)
    return out


def video_predictions(scores: Scores, labels: np.ndarray, names: list[str], groups: np.ndarray) -> list[dict]:
    video = np.asarray(scores.video, dtype=np.float64)
    tied = tied_top(video)
    out = []
    for i in range(len(labels)):
        row = {"item": names[i], "group": int(groups[i]), "label": int(labels[i]),
               "pred": int(video[i].argmax()), "scores": np.round(video[i], 6).tolist()}
        if tied[i]:
            row["tied_top"] = True
        if i in scores.unscorable:
            row["unscorable"] = scores.unscorable[i]
        out.append(row)
    return out
