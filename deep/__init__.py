"""Deep-learning methods: video classifiers (``deep.video``) and generative models."""
