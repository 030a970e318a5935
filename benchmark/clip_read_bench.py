"""Shim: ``python -m benchmark.clip_read_bench`` keeps working; the tool is ``benchmark.tools.clip_read_bench``."""
from benchmark.tools.clip_read_bench import main

if __name__ == "__main__":
    raise SystemExit(main())
