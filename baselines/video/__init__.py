"""Classical video methods: dense trajectories, encodings, chi-square SVM, colour histograms."""
