"""Shim: ``python -m benchmark.coverage`` keeps working; the tool is ``benchmark.analysis.coverage``."""
from benchmark.analysis.coverage import main

if __name__ == "__main__":
    raise SystemExit(main())
