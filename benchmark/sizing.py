"""Shim: ``python -m benchmark.sizing`` keeps working; the tool is ``benchmark.analysis.sizing``."""
from benchmark.analysis.sizing import main

if __name__ == "__main__":
    raise SystemExit(main())
