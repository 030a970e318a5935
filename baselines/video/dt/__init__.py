"""Dense trajectories (Wang et al. 2011/2013): flow, tracking, descriptors, text format, CLI, benchmark method."""
