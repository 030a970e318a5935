"""The committed video report scores every test video with every method (issue: iDT once left 23 of 80 unscored)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

REPORT = Path(__file__).resolve().parents[1] / "reports" / "video.csv"


def test_committed_video_report_scores_every_test_video():
    rows = pd.read_csv(REPORT)
    assert len(rows) > 0 and "n_unscorable" in rows
    unscored = rows.loc[rows["n_unscorable"] != 0, ["method", "n_unscorable"]]
    assert unscored.empty, f"rows with unscorable test videos:\n{unscored.to_string(index=False)}"
