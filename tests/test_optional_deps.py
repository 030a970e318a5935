"""A missing optional piece is one clear message naming what to install, never an AttributeError."""
from __future__ import annotations

import types

import pytest

from baselines.video.dt import optical_flow


def test_tvl1_without_opencv_contrib_names_the_package(monkeypatch):
    plain_cv2 = types.SimpleNamespace(**{k: getattr(optical_flow.cv2, k) for k in dir(optical_flow.cv2)
                                         if k != "optflow" and not k.startswith("__")})
    monkeypatch.setattr(optical_flow, "cv2", plain_cv2)
    with pytest.raises(RuntimeError, match="opencv-contrib-python-headless"):
        optical_flow._make_tvl1()
