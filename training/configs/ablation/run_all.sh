#!/usr/bin/env bash
# The dilation / alignment ablation (docs/ablation.md): the shipped small model (version 2)
# fine-tuned four ways (as it is, with dilation, with alignment, with both) on the same data with large synthetic
# motion, same seed and steps; each run continues from its run folder if restarted.
set -euo pipefail
cd "$(dirname "$0")/../../.."
PY=${PY:-.venv/bin/python}
$PY -m training.recipe --output runs/tga_small_bd_x4 --stages 2 --quiet  # stage 2 of the shipped recipe, the model these runs fine-tune
for name in plain dilation align dilation_align; do
  $PY -m training.run --config training/configs/ablation/$name.json --output runs/ablation_$name --quiet
done
