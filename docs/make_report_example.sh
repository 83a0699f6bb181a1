#!/usr/bin/env bash
# Makes the README's report picture: SupCon (contrastive + linear) against cross-entropy on the
# embedded digits, both evaluated for kNN, calibration and corruptions, then `kerascon report`.
# Run from the repository root after `pip install ".[report]"`; about 10 minutes on 2 CPU cores.
set -euo pipefail
out=${1:-runs/report-example}
common=(--arch resnet18 --width-multiplier 0.25 --data embedded:digits --image-size 16
        --batch-size 128 --epochs 10 --quiet --overwrite)
kerascon train --stage contrastive "${common[@]}" --lr 0.5 --projection-hidden-dim 256 \
    --output "$out/supcon"
kerascon train --stage linear --run "$out/supcon" --epochs 30 --augment none --quiet
# Cross-entropy diverges at lr 0.5 here (stuck at chance); 0.05 trains.
kerascon train --stage ce "${common[@]}" --lr 0.05 --output "$out/ce"
kerascon eval --run "$out/ce" --knn --calibration --corruptions --json > "$out/ce.json"
kerascon eval --frozen --run "$out/supcon" --knn --calibration --corruptions \
    --reference "$out/ce" --json > "$out/supcon.json"
kerascon report "$out/supcon" "$out/ce" --output "$out/report"
cp "$out/report/severity.png" docs/report_severity.png
