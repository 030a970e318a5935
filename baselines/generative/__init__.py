"""Classical density baselines."""
