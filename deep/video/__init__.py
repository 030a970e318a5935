"""Deep video classifiers: one file per model family, registered in ``deep.video.registry``."""
