"""Jobs: segmented, resumable upscaling of one video or many, locally or on a Ray cluster."""
