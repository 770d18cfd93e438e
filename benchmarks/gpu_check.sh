#!/usr/bin/env bash
# The GPU check: one short run (about 5 minutes on one GPU) that leaves every figure as a file.
#
#   benchmarks/gpu_check.sh          # on a machine with a CUDA GPU
#   benchmarks/gpu_check.sh --cpu    # dry mode: the same steps, tiny, on the CPU (or GPU_CHECK_CPU=1)
#
# Steps, each with its own timeout, each recorded (ok / failed / timeout, seconds, the last
# lines of its log, what it measured) in results/benchmarks/gpu_check.json (dry mode:
# gpu_check_cpu.json) -- rewritten after every step, so a step that fails or hangs still leaves
# the others' figures:
#   env            nvidia-smi, python, torch, CUDA, cuDNN, NCCL versions
#   setup          a python that imports torch and neuralab: the GPU image's python3 (it holds
#                  PyTorch; nothing can be installed there, so src/ goes on PYTHONPATH), else
#                  ./.venv, else `python3 -m venv .venv && .venv/bin/pip install -e .`
#   data           genuine CIFAR-10 if $NEURALAB_DATA has it, else a synthetic CIFAR-shaped
#                  image folder (10 classes, 32x32 RGB PNGs) used with --set dataset=PATH
#   cifar10_fast   neuralab run cifar10-fast on cuda (the Trainer's AMP: bf16 where supported)
#   cifar10_fast_compile   the same with --set compile=true
#   throughput     benchmarks/throughput.py: img/s per model and precision (fp32, bf16, fp16 AMP),
#                  FLOPs, fraction of the GEMM peak, Trainer overhead
#                  -> results/benchmarks/throughput_cuda.json
#   ddp_nproc1     neuralab run digits-mlp-torch --nproc 1 --device cuda (embedded data)
#   ddp_nccl       torchrun --nproc_per_node 1: an nccl process group, all_reduce, DDP steps
#                  (neuralab's --nproc 1 runs in-process without a process group)
# When the device tool's $OUT is set, the JSON files are copied there too.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MODE=gpu
if [[ "${1:-}" == "--cpu" || "${GPU_CHECK_CPU:-0}" == 1 ]]; then MODE=cpu; fi
RESULTS="${GPU_CHECK_RESULTS:-$ROOT/results/benchmarks}"
WORK="${GPU_CHECK_WORK:-${TMPDIR:-/tmp}/neuralab-gpu-check-$MODE}"
if [[ $MODE == gpu ]]; then SUMMARY="$RESULTS/gpu_check.json"; DEVICE=cuda
else SUMMARY="$RESULTS/gpu_check_cpu.json"; DEVICE=cpu; fi
THROUGHPUT_OUT="$RESULTS/throughput_cuda.json"
[[ $MODE == cpu ]] && THROUGHPUT_OUT="$WORK/throughput_cpu_dry.json"
STEPS="$WORK/steps"; LOGS="$WORK/logs"; RUNS="$WORK/runs"
rm -rf "$STEPS" "$LOGS"
mkdir -p "$STEPS" "$LOGS" "$RUNS" "$RESULTS"
export PYTHONUNBUFFERED=1 GPU_CHECK_COMMAND="benchmarks/gpu_check.sh $*"
SYS_PY="$(command -v python3 || command -v python)"
PY="$SYS_PY"
N=0

summarize() {
  "$SYS_PY" benchmarks/gpu_check.py summarize --steps "$STEPS" --out "$SUMMARY" \
    --runs "$RUNS" --mode "$MODE" || echo "gpu_check: summary failed" >&2
  if [[ -n "${OUT:-}" && -d "${OUT:-}" ]]; then
    cp -f "$SUMMARY" "$OUT/" 2>/dev/null
    [[ -f "$THROUGHPUT_OUT" ]] && cp -f "$THROUGHPUT_OUT" "$OUT/" 2>/dev/null
  fi
  return 0
}

# step NAME TIMEOUT_S KIND EXTRA -- COMMAND...   (KIND: plain | run | file | ddp | json-line;
# EXTRA: the experiment for run, the file for file, else -)
step() {
  local name=$1 limit=$2 kind=$3 extra=$4; shift 5
  N=$((N + 1))
  local id; id=$(printf '%02d_%s' "$N" "$name")
  local log="$LOGS/$id.log" rec="$STEPS/$id.step.json"
  local started; started=$(date +%s)
  local cmd; cmd=$(printf '%q ' "$@")
  "$SYS_PY" - "$rec" "$name" "$kind" "$extra" "$log" "$limit" "$started" "$cmd" <<'EOF'
import json, sys
rec, name, kind, extra, log, limit, started, cmd = sys.argv[1:]
doc = {"name": name, "kind": kind, "log": log, "timeout_s": int(limit),
       "started": float(started), "command": cmd.strip(), "rc": None, "seconds": None}
if kind == "run": doc["experiment"] = extra
if kind == "file": doc["file"] = extra
json.dump(doc, open(rec, "w"))
EOF
  summarize >/dev/null
  echo "== [$MODE] $name (timeout ${limit}s): $cmd" >&2
  timeout -k 10 "$limit" "$@" >"$log" 2>&1
  local rc=$?
  local seconds=$(( $(date +%s) - started ))
  "$SYS_PY" - "$rec" "$rc" "$seconds" <<'EOF'
import json, sys
rec, rc, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
doc = json.load(open(rec)); doc["rc"] = rc; doc["seconds"] = seconds
doc["ended"] = doc["started"] + seconds
json.dump(doc, open(rec, "w"))
EOF
  echo "   -> rc $rc in ${seconds}s; last lines:" >&2
  tail -n 3 "$log" | sed 's/^/      /' >&2
  summarize >/dev/null
  return $rc
}

# --- env
ENV_PY='import json, sys
out = {"python": sys.version.split()[0], "executable": sys.executable}
try:
    import torch
    out.update(torch=torch.__version__, cuda=torch.version.cuda,
               cuda_available=torch.cuda.is_available(), cpu_threads=torch.get_num_threads())
    if torch.cuda.is_available():
        p = torch.cuda.get_device_properties(0)
        out.update(gpu=p.name, gpu_count=torch.cuda.device_count(),
                   gpu_memory_gib=round(p.total_memory / 2**30, 1), sm=p.multi_processor_count,
                   capability=list(torch.cuda.get_device_capability(0)),
                   cudnn=torch.backends.cudnn.version(), bf16=torch.cuda.is_bf16_supported(),
                   nccl=".".join(map(str, torch.cuda.nccl.version())))
except Exception as err:
    out["torch_error"] = repr(err)
print(json.dumps(out))'
if [[ $MODE == gpu ]]; then
  step nvidia_smi 30 plain - -- nvidia-smi
fi

# --- setup: a python with torch and neuralab
IMPORT_CHECK='import json, torch, neuralab
print(json.dumps({"neuralab": neuralab.__file__, "torch": torch.__version__,
                  "cuda": torch.cuda.is_available()}))'
if "$SYS_PY" -c "import torch" >/dev/null 2>&1; then
  export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
  PY="$SYS_PY"
elif [[ -x .venv/bin/python ]]; then
  PY="$ROOT/.venv/bin/python"
else
  step venv 420 plain - -- bash -c "$SYS_PY -m venv .venv && .venv/bin/pip install -q -e ."
  PY="$ROOT/.venv/bin/python"
fi
step setup 60 json-line - -- "$PY" -c "$IMPORT_CHECK"
step env 60 json-line - -- "$PY" -c "$ENV_PY"

# --- data
if [[ $MODE == gpu ]]; then NTRAIN=50000; NTEST=10000; else NTRAIN=800; NTEST=200; fi
DATASET="$WORK/synthetic-cifar10"
if step data_genuine 60 plain - -- "$PY" -c \
    "from neuralab.data import load; d = load('cifar10'); print(d.source if hasattr(d, 'source') else 'cifar10')" \
    && [[ $MODE == gpu ]]; then
  DATASET=cifar10
elif [[ -f "$DATASET/.complete-$NTRAIN-$NTEST" ]]; then
  step data_synthetic_reused 10 plain - -- echo "reusing $DATASET ($NTRAIN train, $NTEST test)"
else
  rm -rf "$DATASET"
  step data_synthetic 180 json-line - -- "$PY" benchmarks/gpu_check.py make-data "$DATASET" \
    --train "$NTRAIN" --test "$NTEST" && touch "$DATASET/.complete-$NTRAIN-$NTEST"
fi

# --- cifar10-fast: the Trainer's CUDA AMP, then + torch.compile
FAST=(--set "dataset=$DATASET")
if [[ $MODE == cpu ]]; then
  FAST+=(--set epochs=1 --set batch_size=200 --set widths=16,32,32 --set whiten_images=200
         --set tta_level=0)
fi
step cifar10_fast 240 run cifar10-fast -- "$PY" -m neuralab run cifar10-fast --device "$DEVICE" \
  --out "$RUNS" "${FAST[@]}"
step cifar10_fast_compile 300 run cifar10-fast -- "$PY" -m neuralab run cifar10-fast \
  --device "$DEVICE" --out "$RUNS" "${FAST[@]}" --set compile=true

# --- the throughput table
if [[ $MODE == gpu ]]; then
  TP=(--device cuda --seconds 2 --rounds 2)
else
  TP=(--device cpu --models simple_cnn --seconds 0.4 --rounds 1 --gemm-size 256
      --gemm-seconds 0.1 --overhead-rounds 2 --overhead-steps 4)
fi
rm -f "$THROUGHPUT_OUT"
step throughput 240 file "$THROUGHPUT_OUT" -- "$PY" benchmarks/throughput.py "${TP[@]}" \
  --write --out "$THROUGHPUT_OUT"

# --- DDP smoke runs
DIGITS=()
[[ $MODE == cpu ]] && DIGITS=(--set epochs=2)
step ddp_nproc1 120 run digits-mlp-torch -- "$PY" -m neuralab run digits-mlp-torch --nproc 1 \
  --device "$DEVICE" --out "$RUNS" "${DIGITS[@]}"
BACKEND=nccl; [[ $MODE == cpu ]] && BACKEND=gloo
step ddp_$BACKEND 120 ddp - -- "$PY" -m torch.distributed.run --standalone --nproc_per_node 1 \
  benchmarks/gpu_check.py ddp-smoke --backend "$BACKEND"

summarize
"$SYS_PY" - "$SUMMARY" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
for s in doc["steps"]:
    print(f"  {s['step']:22s} {s['status']:8s} {s['seconds']}s")
EOF
# exit 0 when every step passed (data_genuine may fail: synthetic data is the fallback)
"$SYS_PY" -c "
import json, sys
doc = json.load(open(sys.argv[1]))
bad = [s['step'] for s in doc['steps'] if s['status'] != 'ok' and s['step'] != 'data_genuine']
print('failed steps: ' + (', '.join(bad) or 'none'))
sys.exit(1 if bad else 0)" "$SUMMARY"
