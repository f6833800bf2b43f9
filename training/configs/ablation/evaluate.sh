#!/usr/bin/env bash
# Evaluate the four ablation runs (run_all.sh) on held-out data; JSONs into docs/ablation/, then the table.
#   real video: carphone (120 frames) and the OpenCV samples tree.avi + vtest.avi (data/eval_clips, 30 frames each)
#   large camera motion: data/pans_large = python -m training.tools pans data/stills/test data/pans_large \
#       --min-speed 8 --max-speed 16 --max-zoom 1.02 --frames 9 --seed 7   (2-4 LR px per frame, zooming)
set -euo pipefail
cd "$(dirname "$0")/../../.."
TGA=${TGA:-.venv/bin/tga}
mkdir -p docs/ablation
for name in plain dilation align dilation_align; do
  model=runs/ablation_$name/last.keras  # the same number of steps for every run: no checkpoint selection
  $TGA evaluate tga_keras/assets/carphone_pristine.mp4 --weights $model --temporal-ablation --no-progress \
      --json docs/ablation/${name}_carphone.json --overwrite
  $TGA evaluate data/eval_clips --max-frames 30 --weights $model --temporal-ablation --no-progress \
      --json docs/ablation/${name}_opencv_clips.json --overwrite
  $TGA evaluate data/pans_large --weights $model --temporal-ablation --no-progress \
      --json docs/ablation/${name}_pans_large.json --overwrite
done
.venv/bin/python -m training.tools ablation-table docs/ablation
