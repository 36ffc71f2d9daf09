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
"$PY" benchmarks/model_card.py --labels "$OUT/labels_val.txt" --root "$DATA" \
    --weights "$OUT/featherface-v2-ultra/final.pt" "$OUT/featherface-v1/final.pt" --json "$OUT/model_card.json"
echo "to ship: cp $OUT/featherface-v2-ultra/final.pt featherface/weights/featherface-v2-ultra.pt (and update BUILTIN_WEIGHTS)"
