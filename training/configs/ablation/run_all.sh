#!/usr/bin/env bash
# The dilation / alignment ablation (docs/ablation.md): the shipped small model (version 2)
# fine-tuned four ways (as it is, with dilation, with alignment, with both) on the same data with large synthetic
# motion, same seed and steps; each run continues from its run folder if restarted.
set -euo pipefail
cd "$(dirname "$0")/../../.."
PY=${PY:-.venv/bin/python}
# the model these runs fine-tune: the shipped model's version 2 (commit 76a5b84, docs/history.md), from git history
mkdir -p runs/init
[ -f runs/init/tga_small_bd_x4_v2.keras ] || {
  git show 76a5b84:saved_models/tga_small_bd_x4/model.keras > runs/init/tga_small_bd_x4_v2.keras.tmp
  mv runs/init/tga_small_bd_x4_v2.keras.tmp runs/init/tga_small_bd_x4_v2.keras
}
for name in plain dilation align dilation_align; do
  $PY -m training.run --config training/configs/ablation/$name.json --output runs/ablation_$name --quiet
done
