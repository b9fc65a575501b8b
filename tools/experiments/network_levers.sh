#!/usr/bin/env bash
# The network levers behind the one network (weights/README.md, "How the network was chosen"): the same
# 3 styles (the grid-prone Starry Night, The Kiss and The Scream), seed, steps and loss recipe (the shipped
# model's: normalised losses to relu4_3, paintings at 512 px, style weight 1.5), one lever changed at a
# time, each scored by `livestyle eval` (texture ratio, content distance, grid score) on 6 held-out photos
# with a contact sheet. Usage: tools/experiments/network_levers.sh STEPS NAME...
# Results: runs/levers/NAME.{safetensors,json,jpg,txt}.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tools/experiments/run_experiment.sh
S=../shared/data/styles
STYLES="vangogh_starry_night=$S/vangogh_starry_night.jpg,klimt_kiss=$S/klimt_the_kiss.jpg,munch_scream=$S/munch_the_scream.jpg"
RECIPE="--style-size 512 --loss-norm target --style-layers relu1_2,relu2_2,relu3_3,relu4_3 --content-layer relu3_3 --content-weight 1 --style-weight 1.5 --tv-weight 10"
ONE="fast,upsample=bilinear,head_stride=2,outer_kernel=3,n_downsample=2,separable=1,padding=zeros"
steps=$1; shift
for name in "$@"; do
  case $name in
    fast)         opts="--arch fast" ;;  # the shipped network: nearest x2 + conv, full-resolution head and tail
    one16_shift)  opts="--arch $ONE --shift-weight 100" ;;  # bilinear x2 + conv, stride-2 head, zero padding
    # the one network (model.ARCHS["one"]: reflection padding, 8/32/64 channels, dense blocks), first
    # without its U-Net skips, then with them (as it ships)
    one)          opts="--arch one,skips=0" ;;
    one_shift)    opts="--arch one,skips=0 --shift-weight 300" ;;
    one_shift_lr3) opts="--arch one,skips=0 --shift-weight 300 --lr 3e-3 --warmup-steps 40" ;;
    one_skip_shift) opts="--arch one --shift-weight 300" ;;
    one_skip_shift_s4) opts="--arch one --shift-weight 300 --style-weight 4" ;;
    one_skip_shift_s8) opts="--arch one --shift-weight 300 --style-weight 8" ;;
    *) echo "unknown experiment $name" >&2; exit 2 ;;
  esac
  # shellcheck disable=SC2086
  run_experiment levers "$name" "$steps" 6 $RECIPE $opts
done
