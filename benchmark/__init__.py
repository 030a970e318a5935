"""Benchmark harness: CLI, datasets and splits, job grid, executors, results store, regression checks."""
