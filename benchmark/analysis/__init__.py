"""Statistics on stored runs: intervals and tests, findings, ``bench check`` (regression gate and its
tolerances, host speed), the design tools of ``bench plan`` (interval coverage, seeds sizing,
measured spreads) and the named designs of ``bench run --design``."""
