"""The ``tga`` command line: :func:`tga_keras.cli.main.main`, one thin module per command."""
