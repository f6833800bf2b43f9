"""Exporters of TGA models: SavedModel (TF Serving), TFLite, ONNX and TensorRT FP16.

``python -m export FORMAT MODEL OUTDIR`` (see ``python -m export --help``). Every artifact is the
inference graph (BatchNorms after a conv folded into it, the path ``tga upscale`` runs), written atomically, run on real
frames through the inference core and compared with the Keras model before it is kept, and
listed in ``OUTDIR/manifest.json``.
"""

FORMATS = ("savedmodel", "tflite", "onnx", "tensorrt")
