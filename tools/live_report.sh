#!/usr/bin/env bash
# The measurements of the issue "live on a real laptop", in one run on idle cores (pause any training
# first: kill -STOP): the README's first command with an empty and a warm compile cache, the webcam on the
# looping demo idle and beside one busy core, `livestyle bench --load 1`, and 720p live with adaptive
# resolution. Prints each command's summary line; JSON from bench goes to $OUT (default runs/live).
#
#     tools/live_report.sh [SECONDS]        # default 40, the issue's window
set -u
cd "$(dirname "$0")/.."
S=${1:-40}
OUT=${OUT:-runs/live}
mkdir -p "$OUT"
LS=${LIVESTYLE:-.venv/bin/livestyle}
CLIP720=../shared/data/video/sam2_cups_720p.mp4
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/livestyle
busy() { python3 -c 'while True: pass' > /dev/null 2>&1 & echo $!; }  # its output away from $(...)'s pipe
timed() {  # timed LABEL CMD...: wall seconds of a command, its last line
  local t0 t1; t0=$(date +%s.%N); "${@:2}" > "$OUT/$1.log" 2>&1; local rc=$?; t1=$(date +%s.%N)
  printf '%-28s rc %d  %6.1f s  %s\n' "$1" "$rc" "$(echo "$t1 - $t0" | bc)" "$(tail -n 1 "$OUT/$1.log" | tr '\r' '\n' | tail -n 1)"
}
echo "== $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, torch $(.venv/bin/python -c 'import torch; print(torch.__version__)')"
echo "== README's first command, empty then warm compile cache ($CACHE)"
rm -rf "$CACHE"
timed first_cold "$LS" video samples/demo.mp4 "$OUT/out.mp4" --styles monet,vangogh --overwrite
timed first_warm "$LS" video samples/demo.mp4 "$OUT/out.mp4" --styles monet,vangogh --overwrite
echo "== webcam, looping demo, 640x360, $S s from the start: empty compile cache, then warm"
rm -rf "$CACHE"
timed webcam_idle_cold "$LS" webcam --camera samples/demo.mp4 --loop --no-window --styles monet,vangogh --duration "$S"
timed webcam_idle "$LS" webcam --camera samples/demo.mp4 --loop --no-window --styles monet,vangogh --duration "$S"
B=$(busy)
timed webcam_load1 "$LS" webcam --camera samples/demo.mp4 --loop --no-window --styles monet,vangogh --duration "$S"
kill "$B"
echo "== webcam at 1280x720 (camera: a 720p clip looped), adaptive resolution, idle"
timed webcam_720p "$LS" webcam --camera "$CLIP720" --loop --no-window --styles monet,vangogh --max-side 1280 --duration "$S"
echo "== the networks alone at 640x360 and 320x180: the shipped one network and the earlier full one, eager and ONNX Runtime"
for arch in one fast; do
  "$LS" bench --arch "$arch" --modes eager,onnxruntime --reference-modes eager --resolution 640x360 --resolution 320x180 \
      --no-e2e 2>&1 | grep -E "^(one|fast|reference|threads)" | tee "$OUT/bench_net_$arch.txt"
done
echo "== livestyle bench --load 1 (webcam idle and loaded, the shipped model as the webcam runs it), 640x360 and 720p"
"$LS" bench --json --resolution 320x180 --modes eager --no-e2e --clip samples/demo.mp4 --live-seconds "$S" --load 1 \
    > "$OUT/bench_live.json" 2> "$OUT/bench_live.err"
"$LS" bench --json --resolution 320x180 --modes eager --no-e2e --clip "$CLIP720" --live-seconds "$S" \
    --live-max-side 1280 > "$OUT/bench_live720.json" 2> "$OUT/bench_live720.err"
python3 - "$OUT" <<'PY'
import json, sys
for name in ("bench_live.json", "bench_live720.json"):
    d = json.load(open(f"{sys.argv[1]}/{name}"))
    for label, r in d["live"].items():
        print(f"bench {label:>7} {r['resolution']:>9} {r.get('backend', '')}: {r['fps']:5.1f} fps, median latency {r['latency_median_ms']:5.0f} ms, "
              f"first frame {r['first_frame_s']:.2f} s, scales {r['scale_share']}, carried {r.get('carried_share', 0):.0%}")
    for k, t in d["targets"].items():
        print(f"  target {k}: {t['value']} vs {t['target']}: {'met' if t['met'] else 'NOT met'}")
PY
