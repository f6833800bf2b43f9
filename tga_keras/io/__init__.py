"""Files, images and video: the one place frames are read and written."""
