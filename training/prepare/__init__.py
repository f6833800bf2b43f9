"""Data tools of training: photographs (stills), clips."""
