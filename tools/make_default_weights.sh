#!/usr/bin/env bash
# Reproduce the default weights shipped in featherface/weights/ and the model-card numbers.
#   bash tools/make_default_weights.sh            (DATA=../shared/data, OUT=runs/default-weights)
# Steps: YuNet auto-labels the real photos -> deterministic 80/20 hold-out split -> train V2 Ultra
# and V1 with the same recipe (configs/default-weights-*.yaml) -> score both on the hold-out.
# Interrupted? Run it again: labelling is skipped when done and training resumes from last.pt.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
OUT=${OUT:-runs/default-weights}
FF=${FF:-.venv/bin/featherface}
PY=${PY:-.venv/bin/python}

if [ ! -f "$OUT/labels_val.txt" ]; then
  "$FF" autolabel "$DATA/photos" "$DATA/faces-unlabeled" --teacher yunet --threshold 0.7 --min-size 8 \
      --root "$DATA" --output "$OUT/labels.txt" --val-fraction 0.2 --report "$OUT/faces_per_image.csv"
fi
for m in v2-ultra v1; do
  "$FF" train -c "configs/default-weights-$m.yaml" --set "label_file=$OUT/labels_train.txt" "image_root=$DATA" \
      "output_dir=$OUT/featherface-$m" --resume auto
done
# stage 2 of the shipped V2 weights: 100 more epochs from stage 1
"$FF" train -c configs/default-weights-v2-ultra-stage2.yaml --set "label_file=$OUT/labels_train.txt" "image_root=$DATA" \
    "output_dir=$OUT/featherface-v2-ultra-stage2" "init_weights=$OUT/featherface-v2-ultra/final.pt" --resume auto
"$PY" benchmarks/model_card.py --labels "$OUT/labels_val.txt" --root "$DATA" \
    --weights "$OUT/featherface-v2-ultra/final.pt" "$OUT/featherface-v1/final.pt" \
              "$OUT/featherface-v2-ultra-stage2/final.pt" --json "$OUT/model_card.json"
echo "to ship: cp $OUT/featherface-v2-ultra-stage2/final.pt featherface/weights/featherface-v2-ultra.pt"
echo "and put its sha256 (sha256sum) into BUILTIN_WEIGHTS in featherface/weights.py"
