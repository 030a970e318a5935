"""How a run runs: config, plan (job grid and keys), the run driver, the per-job runner, the local and Dask
executors, the results store, and what a job computes (decoding check, metrics, generative suite, protocol)."""
