#!/usr/bin/env bash
# The dilation / alignment ablation (README, "What dilation and alignment buy"): three runs of the small
# preset, same data, seed and steps; each continues from its run folder if restarted.
set -euo pipefail
cd "$(dirname "$0")/../../.."
PY=${PY:-.venv/bin/python}
for name in plain dilation align; do
  $PY -m training.run --config training/configs/ablation/$name.json --output runs/ablation_$name --quiet
done
