"""Memorisation audits of generative models: nearest-neighbour checks and the planted-copies power study."""
