"""Speed and size measurements, printed as numbers (``make bench``); never timed assertions."""
