"""Dense trajectories (Wang et al. 2011/2013): flow, tracking, descriptors, text format, CLI, benchmark method."""

DT_FLOWS = ("farneback", "dis")  # here, so the CLI parser needs no OpenCV
