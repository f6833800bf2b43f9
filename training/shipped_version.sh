#!/usr/bin/env bash
# Write an earlier version of the shipped model (saved_models/tga_small_bd_x4) from git history, for the
# configs that fine-tune it (their init_from):
#   bash training/shipped_version.sh 1   # -> runs/init/tga_small_bd_x4_v1.keras (configs/small_stills.json)
#   bash training/shipped_version.sh 2   # -> runs/init/tga_small_bd_x4_v2.keras (configs/small_pans.json, ablation/)
#   bash training/shipped_version.sh 3   # -> runs/init/tga_small_bd_x4_v3.keras (configs/small_pans2.json)
#   bash training/shipped_version.sh 4   # -> runs/init/tga_small_bd_x4_v4.keras (configs/small_local.json)
#   bash training/shipped_version.sh 5   # -> runs/init/tga_small_bd_x4_v5.keras (configs/small_subpixel.json)
#   bash training/shipped_version.sh 6   # -> runs/init/tga_small_bd_x4_v6.keras (configs/small_subpixel3.json; averaged with it)
#   bash training/shipped_version.sh 7   # -> runs/init/tga_small_bd_x4_v7.keras (configs/small_subpixel4.json)
#   bash training/shipped_version.sh 8   # -> runs/init/tga_small_bd_x4_v8.keras (the shipped one; the next fine-tuning)
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
  1) commit=2d4ae3f ;;  # configs/small_clips.json, trained from scratch
  2) commit=76a5b84 ;;  # configs/small_stills.json, fine-tuned from version 1
  3) commit=7fa577a ;;  # configs/small_pans.json, fine-tuned from version 2
  4) commit=21ece9e ;;  # configs/small_pans2.json, fine-tuned from version 3
  5) commit=0f7bb8a ;;  # configs/small_local.json, fine-tuned from version 4
  6) commit=be1e335 ;;  # configs/small_subpixel.json, fine-tuned from version 5
  7) commit=d4b2d53 ;;  # configs/small_subpixel3.json from version 6, averaged with version 6 (0.3 / 0.7)
  8) commit=e992f30 ;;  # configs/small_subpixel4.json, fine-tuned from version 7
  *) echo "usage: bash training/shipped_version.sh 1|2|3|4|5|6|7|8" >&2; exit 2 ;;
esac
out="runs/init/tga_small_bd_x4_v$1.keras"
mkdir -p runs/init
git show "$commit:saved_models/tga_small_bd_x4/model.keras" > "$out.tmp"
mv "$out.tmp" "$out"
echo "$out"
