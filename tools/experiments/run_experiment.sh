# Sourced by the experiment scripts: run_experiment DIR NAME STEPS LIMIT OPTS... trains the 3 styles of
# $STYLES with OPTS (seed 0, $STEPS steps) into runs/DIR/NAME.safetensors and scores it with `livestyle eval`
# on the first LIMIT held-out photos (runs/DIR/NAME.{json,jpg,txt}).
run_experiment() {
  local dir=$1 name=$2 steps=$3 limit=$4
  shift 4
  mkdir -p "runs/$dir"
  livestyle train --styles "$STYLES" --content ../shared/data/content --holdout tools/holdout_photos.txt \
      --out "runs/$dir/$name.safetensors" --overwrite --steps "$steps" --seed 0 \
      --vgg ../shared/data/vgg/vgg16-caffe-features-fp16.pth --preview-every 0 --log-every 50 "$@" \
      2> "runs/$dir/$name.log"
  livestyle eval ../shared/data/content --holdout tools/holdout_photos.txt --limit "$limit" \
      --vgg ../shared/data/vgg/vgg16-caffe-features-fp16.pth --weights "runs/$dir/$name.safetensors" \
      --json "runs/$dir/$name.json" --overwrite --sheet "runs/$dir/$name.jpg" > "runs/$dir/$name.txt" 2>&1
  cat "runs/$dir/$name.txt"
}
