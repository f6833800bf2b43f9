"""The network: config and presets, layers, the Keras model, loading and the official-checkpoint converter."""
