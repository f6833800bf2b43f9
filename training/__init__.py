"""Training entry point for tga-keras (``python -m training.run``)."""
