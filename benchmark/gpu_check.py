"""Shim: ``python -m benchmark.gpu_check`` keeps working; the tool is ``benchmark.tools.gpu_check``."""
from benchmark.tools.gpu_check import main

if __name__ == "__main__":
    raise SystemExit(main())
