"""Running a model: windows, tiling, backends (one registry) and the Upscaler."""
