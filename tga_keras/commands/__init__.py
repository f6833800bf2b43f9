"""Sub-commands of the ``tga`` command line; each module has ``add_parser(sub)`` and ``run(args)``."""
