#!/usr/bin/env bash
# The recipe experiments behind the shipped model's training (weights/README.md, "How the recipe was
# chosen"): the same 3 styles, seed and steps, one lever changed at a time, each scored by
# `livestyle eval` on the held-out photos with a contact sheet. Usage: tools/experiments/recipe_runs.sh STEPS NAME...
# (names below; results in runs/recipe/NAME.{safetensors,json,jpg}).
set -euo pipefail
cd "$(dirname "$0")/../.."
. tools/experiments/run_experiment.sh
S=../shared/data/styles
STYLES="vangogh_starry_night=$S/vangogh_starry_night.jpg,picabia_udnie=$S/picabia_udnie.jpg,munch_scream=$S/munch_the_scream.jpg"
steps=$1; shift
for name in "$@"; do
  case $name in
    raw512)      opts="--style-size 512" ;;  # today's recipe with the paintings' Grams at 512 px
    norm_c1_s1)  opts="--style-size 512 --loss-norm target --style-layers relu1_2,relu2_2,relu3_3,relu4_3 --content-layer relu3_3 --content-weight 1 --style-weight 1" ;;
    norm_c1_s3)  opts="--style-size 512 --loss-norm target --style-layers relu1_2,relu2_2,relu3_3,relu4_3 --content-layer relu3_3 --content-weight 1 --style-weight 3" ;;
    norm_c1_s10) opts="--style-size 512 --loss-norm target --style-layers relu1_2,relu2_2,relu3_3,relu4_3 --content-layer relu3_3 --content-weight 1 --style-weight 10" ;;
    norm22_c1_s3) opts="--style-size 512 --loss-norm target --style-layers relu1_2,relu2_2,relu3_3,relu4_3 --content-layer relu2_2 --content-weight 1 --style-weight 3" ;;
    norm_c1_s3_768) opts="--style-size 768 --loss-norm target --style-layers relu1_2,relu2_2,relu3_3,relu4_3 --content-layer relu3_3 --content-weight 1 --style-weight 3" ;;
    norm_c1_s3_lr3) opts="--style-size 512 --loss-norm target --style-layers relu1_2,relu2_2,relu3_3,relu4_3 --content-layer relu3_3 --content-weight 1 --style-weight 3 --lr 3e-3 --warmup-steps 40" ;;
    *) echo "unknown experiment $name" >&2; exit 2 ;;
  esac
  # shellcheck disable=SC2086
  run_experiment recipe "$name" "$steps" 8 --arch fast $opts
done
