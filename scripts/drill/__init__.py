"""Fire drills: make every alert fire for real, on the running stack or on native processes."""
