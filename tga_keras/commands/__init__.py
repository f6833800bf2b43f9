"""Sub-commands of the ``tga`` command line; each module has ``add_parser(sub)`` and ``run(args)``."""


def add_precision_argument(parser) -> None:
    """``--precision float32|bfloat16`` (see :func:`tga_keras.inference.with_precision`)."""
    parser.add_argument(
        "--precision", choices=["float32", "bfloat16"], default="float32",
        help="compute precision: float32 is exact to the official release; bfloat16 is several times "
             "faster on CPUs with AMX/AVX512-BF16 and on GPUs, with outputs within about 1e-2",
    )
