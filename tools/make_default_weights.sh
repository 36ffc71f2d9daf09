#!/usr/bin/env bash
# Reproduce the default weights shipped in featherface/weights/ and the model-card table.
#   bash tools/make_default_weights.sh          (DATA=../shared/data, OUT=runs/default-weights)
# Steps:
#   1. RetinaFace-mnet0.25 + YuNet-n label the training photos (faces fused; featherface autolabel),
#      with the deterministic 10 % hold-out whose Caltech part is the Caltech validation split;
#   2. V2 Ultra and V1 are trained with the same recipe (configs/default-weights-*.yaml), eight
#      stages: RetinaFace backbone, matched-prior loss on the fused labels + dense distillation from
#      RetinaFace; stage 5 adds occlusion/degradation, stages 6-8 multi-scale batches; V2 Ultra's
#      stage 8 switches its attention repeats to the residual form (attention_residual);
#   3. `featherface eval` scores both beside RetinaFace and YuNet on the human-labelled sets.
# Training data: Caltech WebFaces (minus its validation split), photos/, faces-unlabeled/, and (stage 9)
# widerface/train-subset. Never the evaluation-only sets (facemask-kaggle, cuhk-landmarks, widerface/val-subset).
# Interrupted? Run it again: labelling is skipped when done and each training stage resumes exactly
# from its last.pt. Each stage fits in < 90 minutes on a 2-core CPU (run alone).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
OUT=${OUT:-runs/default-weights}
FF=${FF:-.venv/bin/featherface}
PY=${PY:-.venv/bin/python}
RETINAFACE=${RETINAFACE:-$DATA/../weights/retinaface_mnet025_Final.pth}
export FEATHERFACE_RETINAFACE_WEIGHTS="$RETINAFACE"

if [ ! -f "$OUT/labels_val.txt" ]; then
  "$FF" autolabel "$DATA/caltech-webfaces/images" "$DATA/photos" "$DATA/faces-unlabeled" \
      --teacher retinaface+yunet --score-threshold 0.5 --min-size 6 --root "$DATA" \
      --output "$OUT/labels.txt" --val-fraction 0.1 --report "$OUT/faces_per_image.csv" --quiet
fi
if [ ! -f "$OUT/labels_wider_train.txt" ]; then
  "$FF" autolabel "$DATA/widerface/train-subset/images" --boxes "$DATA/widerface/train-subset/label.txt" \
      --teacher retinaface --score-threshold 0.3 --output "$OUT/labels_wider_train.txt" --quiet
fi
for m in v2-ultra v1; do
  # stage 1: 12 epochs from RetinaFace's backbone
  "$FF" train -c "configs/default-weights-$m.yaml" --set "label_file=$OUT/labels_train.txt" "image_root=$DATA" \
      "output_dir=$OUT/featherface-$m" "backbone_init=$RETINAFACE" --resume auto --no-progress
  # stage 2: 6 epochs from stage 1 with augmentation that keeps faces small
  "$FF" train -c "configs/default-weights-$m-stage2.yaml" --set "label_file=$OUT/labels_train.txt" "image_root=$DATA" \
      "output_dir=$OUT/featherface-$m-stage2" "init_weights=$OUT/featherface-$m/final.pt" --resume auto --no-progress
  # stages 3 and 4: 12 and 10 more epochs of the stage-2 recipe (warm restarts of the cosine schedule,
  # landmark distillation weight 1.0): the losses were still falling at the end of every stage
  "$FF" train -c "configs/default-weights-$m-stage3.yaml" --set "label_file=$OUT/labels_train.txt" "image_root=$DATA" \
      "output_dir=$OUT/featherface-$m-stage3" "init_weights=$OUT/featherface-$m-stage2/final.pt" --resume auto --no-progress
  "$FF" train -c "configs/default-weights-$m-stage4.yaml" --set "label_file=$OUT/labels_train.txt" "image_root=$DATA" \
      "output_dir=$OUT/featherface-$m-stage4" "init_weights=$OUT/featherface-$m-stage3/final.pt" --resume auto --no-progress
  # stage 5: + occlusion and degradation augmentation (8 epochs); stages 6 and 7: + multi-scale batches
  # (320/480/640) and zoom-in crops, so faces up to 640 px are seen (8 + 8 epochs, lr 3e-3 then 2e-3);
  # stage 8: 8 more epochs of stage 7's recipe (V2 Ultra: with residual attention repeats)
  # stage 9: WIDER FACE crowds beside the stage-8 labels (configs/default-weights-$m-stage9.yaml);
  # stage 10: 7 more epochs of it with twice the stage-8 labels' share, each epoch's weights kept
  for k in 5 6 7 8 9 10; do
    "$FF" train -c "configs/default-weights-$m-stage$k.yaml" --set "label_file=$OUT/labels_train.txt" "image_root=$DATA" \
        "output_dir=$OUT/featherface-$m-stage$k" "init_weights=$OUT/featherface-$m-stage$((k - 1))/final.pt" \
        --resume auto --no-progress
  done
  for k in 1 2 3 4 5 6 7 8 9 10; do
    d="$OUT/featherface-$m"; [ "$k" = 1 ] || d="$d-stage$k"
    cp "$d/final.pt" "$OUT/$m-stage$k.pt"                          # distinct names for the eval table
  done
done
# stage 11, both models: 2 epochs from stage 10 with hard negatives (the false faces of stage 9's V2 Ultra
# over the stage-8 training images, RetinaFace at 0.1 backing none of them); the shipped file is the
# 50/50 average of stage 8 and stage 11 (tools/average_weights.py: keeps stage 11's WIDER gain without
# stage 10's loss on the human-labelled sets, docs/model_card.md#stages-10-11-and-the-average)
if [ ! -f "$OUT/labels_hardneg.txt" ]; then
  "$FF" autolabel "$DATA" --boxes "$OUT/labels_train.txt" --hard-negatives "$OUT/hardneg" \
      --miner "featherface:$OUT/featherface-v2-ultra-stage9/final.pt" --teacher retinaface --score-threshold 0.1 \
      --output "$OUT/labels_hardneg.txt" --quiet
fi
for m in v2-ultra v1; do
  "$FF" train -c "configs/default-weights-$m-stage11.yaml" --resume auto --no-progress
  cp "$OUT/featherface-$m-stage11/final.pt" "$OUT/$m-stage11.pt"
  "$PY" tools/average_weights.py "$OUT/featherface-$m-stage8/final.pt" "$OUT/featherface-$m-stage11/final.pt" \
      --mix 0.5 0.5 -o "$OUT/$m-average-8-11.pt"
done
# stages 12 and 13, both models: the WIDER crops at native scale (0.6-1.0 of the short side, three times in
# five at 1.0), 2 epochs from stage 11 then 4 more, each epoch kept (docs/model_card.md#stages-12-13-native-scale-wider-crops)
for m in v2-ultra v1; do
  for k in 12 13; do
    "$FF" train -c "configs/default-weights-$m-stage$k.yaml" --resume auto --no-progress
    cp "$OUT/featherface-$m-stage$k/final.pt" "$OUT/$m-stage$k.pt"
  done
  "$PY" tools/average_weights.py "$OUT/featherface-$m-stage8/final.pt" "$OUT/featherface-$m-stage12/final.pt" \
      --mix 0.5 0.5 -o "$OUT/$m-average-8-12.pt"
  # the tail average: the weights after the last three epochs of native-scale training (stage 12's last,
  # stage 13's third and last), equal shares
  "$PY" tools/average_weights.py "$OUT/featherface-$m-stage12/final.pt" "$OUT/featherface-$m-stage13/epoch3.pt" \
      "$OUT/featherface-$m-stage13/final.pt" -o "$OUT/$m-soup-12-13.pt"
  # the shipped blend: half the earlier shipped average (stages 8 + 11), half the tail average (WIDER gains
  # kept, the human-set losses of the tail average alone undone)
  "$PY" tools/average_weights.py "$OUT/$m-average-8-11.pt" "$OUT/$m-soup-12-13.pt" --mix 0.5 0.5 -o "$OUT/$m-blend.pt"
done
# stage 14, both models: half the crops turned up to +-30 deg (landmarks that follow head roll), 2 epochs from
# the blend (docs/model_card.md#stage-14-landmarks-that-follow-head-roll). V1 learns the roll and ships half
# the blend + half stage 14; V2 Ultra, with the same recipe, does not learn it and keeps its blend.
for m in v2-ultra v1; do
  "$FF" train -c "configs/default-weights-$m-stage14.yaml" --resume auto --no-progress
done
"$PY" tools/average_weights.py "$OUT/v1-blend.pt" "$OUT/featherface-v1-stage14/final.pt" --mix 0.5 0.5 -o "$OUT/v1-blend-14.pt"
"$PY" benchmarks/landmark_roll.py --detectors "featherface-v2-ultra:$OUT/v2-ultra-blend.pt,featherface-v2-ultra:$OUT/featherface-v2-ultra-stage14/final.pt,featherface-v1:$OUT/v1-blend.pt,featherface-v1:$OUT/featherface-v1-stage14/final.pt,featherface-v1:$OUT/v1-blend-14.pt,retinaface" \
    --json docs/landmark_roll.json
# stage-11 experiments (V2 Ultra): without the hard negatives (control) and with label-aware distillation
for e in plain labelaware; do
  "$FF" train -c "configs/experiments/v2-ultra-stage11-$e.yaml" --resume auto --no-progress
  cp "runs/experiments/v2-ultra-stage11-$e/final.pt" "runs/experiments/v2-ultra-stage11-$e.pt"
done
# WIDER AP per epoch of stages 10-13, with stages 8-9 and the averages (docs/wider_curve.json)
"$PY" benchmarks/wider_learning_curve.py "$OUT"/featherface-{v2-ultra,v1}-stage{10,11,12,13} \
    --extra "$OUT"/featherface-{v2-ultra,v1}-stage{8,9}/final.pt "$OUT"/{v2-ultra,v1}-average-8-11.pt \
    "$OUT"/{v2-ultra,v1}-{average-8-12,soup-12-13,blend}.pt --json docs/wider_curve.json
# the README's WIDER and human-set tables (after stage 14): the shipped files, V1 before stage 14, V2 Ultra's stage 14
DETS14="featherface-v2-ultra:$OUT/v2-ultra-blend.pt,featherface-v1:$OUT/v1-blend-14.pt,featherface-v1:$OUT/v1-blend.pt,featherface-v2-ultra:$OUT/featherface-v2-ultra-stage14/final.pt,retinaface,yunet"
"$FF" eval --images "$DATA/widerface/val-subset/images" --detectors "$DETS14" --threads 1 --json docs/wider_stage14.json --force
"$FF" eval --human-sets "$DATA" --cuhk-rotation 20 --detectors "$DETS14" --threads 1 --json docs/human_stage14.json --force
# the stage-13 tables of the model card, false faces included: one run each over the same detectors
DETS="featherface-v2-ultra:$OUT/v2-ultra-blend.pt,featherface-v1:$OUT/v1-blend.pt,featherface-v2-ultra:$OUT/v2-ultra-soup-12-13.pt,featherface-v1:$OUT/v1-soup-12-13.pt,featherface-v2-ultra:$OUT/v2-ultra-average-8-11.pt,featherface-v1:$OUT/v1-average-8-11.pt,retinaface,yunet"
"$FF" eval --images "$DATA/widerface/val-subset/images" --detectors "$DETS" --threads 1 \
    --json docs/wider_val_subset.json --force
"$FF" eval --human-sets "$DATA" --cuhk-rotation 20 --detectors "$DETS" --threads 1 --json docs/human_stage13.json --force
"$PY" benchmarks/false_faces.py --detectors "$DETS" --json docs/false_faces.json
# the experiment rows (configs/experiments/v2-stage8-landmarks.yaml, v2-stage8-feat.yaml) are skipped with a
# note when not run
"$FF" eval --human-sets "$DATA" \
    --detectors "featherface-v2-ultra:$OUT/v2-ultra-stage8.pt,featherface-v1:$OUT/v1-stage8.pt,featherface-v2-ultra:$OUT/v2-ultra-stage7.pt,featherface-v1:$OUT/v1-stage7.pt,featherface-v2-ultra:$OUT/v2-ultra-stage6.pt,featherface-v1:$OUT/v1-stage6.pt,featherface-v2-ultra:$OUT/v2-ultra-stage5.pt,featherface-v1:$OUT/v1-stage5.pt,featherface-v2-ultra:$OUT/v2-ultra-stage4.pt,featherface-v1:$OUT/v1-stage4.pt,featherface-v2-ultra:runs/experiments/v2-stage8-landmarks/final.pt,featherface-v2-ultra:runs/experiments/v2-stage8-feat/final.pt,retinaface,yunet" \
    --json docs/model_card.json --plot docs/images/human_pr.png --force
echo "to ship: cp $OUT/v2-ultra-blend.pt featherface/weights/featherface-v2-ultra.pt, $OUT/v1-blend-14.pt featherface/weights/featherface-v1.pt,"
echo "then put their sha256 (sha256sum) into BUILTIN_WEIGHTS in featherface/models/shipped.py"
