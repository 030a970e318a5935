"""Stand-alone measurement tools run with ``python -m``: scale benchmark, clip-read benchmark, GPU check."""
