"""Datasets, split files and video access."""
