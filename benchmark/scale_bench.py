"""Shim: ``python -m benchmark.scale_bench`` keeps working; the tool is ``benchmark.tools.scale_bench``."""
from benchmark.tools.scale_bench import main

if __name__ == "__main__":
    raise SystemExit(main())
