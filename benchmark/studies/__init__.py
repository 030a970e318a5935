"""Studies that run in a suite beside its models (label efficiency: pre-training without labels, then few labels)."""
