"""Statistics on stored runs: intervals and tests, findings, ``bench check`` (regression gate and its
tolerances, host speed), and the design tools of ``bench plan`` (interval coverage, seeds sizing)."""
