#!/usr/bin/env bash
# Validates Quarry's native library on a GPU host that has the NVIDIA driver, the CUDA toolkit (nvcc,
# compute-sanitizer), CMake and a C++ compiler, and needs neither Java, Maven nor the network:
#
#   benchmarks/gpu/validate.sh OUT_DIR
#
# Steps: record the GPU (nvidia-smi) and toolchain versions; configure and build native/ with CMake into build-gpu/
# (CUDA required, built-in GEMM instead of OpenBLAS); run test_ops, the CPU reference and CUDA-vs-CPU parity suite,
# with QUARRY_REQUIRE_GPU=1; run test_ops under compute-sanitizer memcheck and racecheck. Every step runs even when
# an earlier one failed (those that need test_ops are skipped without it). Writes OUT_DIR/report.md (a table: step,
# status, time, key numbers) and OUT_DIR/<step>.log, the full output of each step. Exits 1 if any step failed.
#
# Environment: QUARRY_STEP_TIMEOUT (seconds per step, default 1800); QUARRY_CUDA_ARCHITECTURES (passed to CMake as
# CMAKE_CUDA_ARCHITECTURES, e.g. 90-real to build for this card only and compile faster); QUARRY_BUILD_JOBS
# (parallel compile jobs, default: all cores).
set -u

if [ "$#" -ne 1 ]; then
    echo "usage: $0 OUT_DIR" >&2
    exit 2
fi
mkdir -p "$1" || exit 2
OUT="$(cd "$1" && pwd)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="$ROOT/build-gpu"
TEST="$BUILD/test_ops"
STEP_TIMEOUT="${QUARRY_STEP_TIMEOUT:-1800}"
BUILD_JOBS="${QUARRY_BUILD_JOBS:-$(nproc)}"
cd "$ROOT" || exit 2

NVCC=""
if [ -x /usr/local/cuda/bin/nvcc ]; then
    NVCC=/usr/local/cuda/bin/nvcc
elif command -v nvcc >/dev/null 2>&1; then
    NVCC="$(command -v nvcc)"
fi
SANITIZER=""
for candidate in ${NVCC:+"$(dirname "$NVCC")/compute-sanitizer"} /usr/local/cuda/bin/compute-sanitizer \
    /usr/local/cuda/compute-sanitizer/compute-sanitizer; do
    if [ -x "$candidate" ]; then
        SANITIZER="$candidate"
        break
    fi
done
if [ -z "$SANITIZER" ] && command -v compute-sanitizer >/dev/null 2>&1; then
    SANITIZER="$(command -v compute-sanitizer)"
fi

ROWS=()
FAILED=0

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# record NAME STATUS SECONDS KEY-NUMBERS: one row of the report table.
record() {
    ROWS+=("| $1 | $2 | $3 | $4 |")
    [ "$2" = FAIL ] && FAILED=1
    printf '%-12s %-5s %7ss  %s\n' "$1" "$2" "$3" "$4"
}

# run_step NAME COMMAND...: runs the command with a time limit, its output into OUT/NAME.log; sets STEP_RC, STEP_SECS.
run_step() {
    local name="$1" start
    shift
    {
        printf '$'
        printf ' %q' "$@"
        printf '\n'
    } >"$OUT/$name.log"
    start="$(now)"
    timeout --kill-after=30 "$STEP_TIMEOUT" "$@" >>"$OUT/$name.log" 2>&1
    STEP_RC=$?
    STEP_SECS="$(elapsed "$start" "$(now)")"
    if [ "$STEP_RC" -eq 124 ] || [ "$STEP_RC" -eq 137 ]; then
        echo "validate.sh: timed out after ${STEP_TIMEOUT}s" >>"$OUT/$name.log"
    fi
}

status_of() { if [ "$1" -eq 0 ]; then echo PASS; else echo FAIL; fi; }

# last_match PATTERN FILE: the last line of FILE matching PATTERN, '|' escaped for the table.
last_match() { grep -E "$1" "$2" 2>/dev/null | tail -n 1 | sed -e 's/^=* *//' -e 's/|/\\|/g'; }

# sanitizer_note TOOL: compute-sanitizer's summary lines and test_ops's own result line from OUT/TOOL.log.
sanitizer_note() {
    local summary
    summary="$(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' "$OUT/$1.log" | sed -e 's/^=* *//' | paste -sd ';' - | sed -e 's/;/; /g')"
    echo "${summary:-no sanitizer summary}; test_ops: $(last_match '^[0-9]+ passed' "$OUT/$1.log")"
}

timed_out_note() {
    if [ "$STEP_RC" -eq 124 ] || [ "$STEP_RC" -eq 137 ]; then echo "; timed out after ${STEP_TIMEOUT}s"; fi
}

# ---- gpu: the driver's view of the card ----
if command -v nvidia-smi >/dev/null 2>&1; then
    run_step gpu bash -c 'nvidia-smi && echo &&
        nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap,clocks.max.sm --format=csv'
    gpu_line="$(grep -A1 '^name, driver_version' "$OUT/gpu.log" | tail -n 1)"
    record gpu "$(status_of "$STEP_RC")" "$STEP_SECS" "${gpu_line:-no GPU listed}$(timed_out_note)"
else
    echo "nvidia-smi not found" >"$OUT/gpu.log"
    record gpu FAIL 0.0 "nvidia-smi not found"
fi

# ---- toolchain: compiler and tool versions ----
if [ -n "$NVCC" ]; then
    # shellcheck disable=SC2016  # the inner script takes nvcc and compute-sanitizer as $1 and $2
    run_step toolchain bash -c '"$1" --version; echo; cmake --version; echo; "${CXX:-c++}" --version; echo;
        if [ -n "$2" ]; then "$2" --version; else echo "compute-sanitizer not found"; fi; echo; uname -a' \
        _ "$NVCC" "$SANITIZER"
    nvcc_line="$(last_match 'release [0-9]' "$OUT/toolchain.log")"
    record toolchain "$(status_of "$STEP_RC")" "$STEP_SECS" "nvcc: ${nvcc_line:-?} ($NVCC)"
else
    echo "nvcc not found in /usr/local/cuda/bin or on PATH" >"$OUT/toolchain.log"
    record toolchain FAIL 0.0 "nvcc not found"
fi

# ---- configure and build ----
cmake_args=(-S native -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DQUARRY_REQUIRE_CUDA=ON -DQUARRY_OPENBLAS=OFF)
if [ -n "$NVCC" ]; then cmake_args+=("-DCMAKE_CUDA_COMPILER=$NVCC"); fi
if [ -n "${QUARRY_CUDA_ARCHITECTURES:-}" ]; then
    cmake_args+=("-DCMAKE_CUDA_ARCHITECTURES=$QUARRY_CUDA_ARCHITECTURES")
fi
run_step configure cmake "${cmake_args[@]}"
configure_rc=$STEP_RC
record configure "$(status_of "$STEP_RC")" "$STEP_SECS" \
    "$(last_match 'Quarry: CUDA backend' "$OUT/configure.log")$(timed_out_note)"

if [ "$configure_rc" -eq 0 ]; then
    rm -f "$TEST"  # a stale binary must not stand in for a failed build
    run_step build cmake --build "$BUILD" -j "$BUILD_JOBS"
    build_note="$(grep -c 'warning' "$OUT/build.log") warning line(s)"
    if [ "$STEP_RC" -ne 0 ]; then
        build_note="first error: $(grep -E 'error|fatal|undefined reference' "$OUT/build.log" | grep -vE '^g?make' |
            head -n 1 | cut -c 1-160 | sed -e 's/|/\\|/g')"
    fi
    record build "$(status_of "$STEP_RC")" "$STEP_SECS" "$build_note$(timed_out_note)"
else
    echo "skipped: configure failed" >"$OUT/build.log"
    record build SKIP 0.0 "configure failed"
fi

# ---- tests ----
if [ -x "$TEST" ]; then
    run_step test_ops env QUARRY_REQUIRE_GPU=1 "$TEST"
    summary="$(last_match '^[0-9]+ passed, [0-9]+ failed' "$OUT/test_ops.log")"
    record test_ops "$(status_of "$STEP_RC")" "$STEP_SECS" "${summary:-no summary (crashed?)}$(timed_out_note)"

    if [ -n "$SANITIZER" ]; then
        run_step memcheck env QUARRY_REQUIRE_GPU=1 "$SANITIZER" --tool memcheck --error-exitcode 1 "$TEST"
        record memcheck "$(status_of "$STEP_RC")" "$STEP_SECS" "$(sanitizer_note memcheck)$(timed_out_note)"
        run_step racecheck env QUARRY_REQUIRE_GPU=1 "$SANITIZER" --tool racecheck --error-exitcode 1 "$TEST"
        record racecheck "$(status_of "$STEP_RC")" "$STEP_SECS" "$(sanitizer_note racecheck)$(timed_out_note)"
    else
        for tool in memcheck racecheck; do
            echo "compute-sanitizer not found" >"$OUT/$tool.log"
            record "$tool" FAIL 0.0 "compute-sanitizer not found"
        done
    fi
else
    for step in test_ops memcheck racecheck; do
        echo "skipped: $TEST was not built" >"$OUT/$step.log"
        record "$step" SKIP 0.0 "test_ops not built"
    done
fi

# ---- report ----
commit="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ]; then commit="$commit (with uncommitted changes)"; fi
overall=PASS
if [ "$FAILED" -ne 0 ]; then overall=FAIL; fi
{
    echo "# Quarry GPU validation: $overall"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(hostname), commit $commit, from \`benchmarks/gpu/validate.sh\`."
    echo
    echo "| step | status | time (s) | key numbers |"
    echo "|---|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "Full output of each step: \`<step>.log\` in this folder. SKIP: a step that needs an earlier one that failed."
    if [ -f "$OUT/test_ops.log" ] && grep -q '^FAIL' "$OUT/test_ops.log"; then
        echo
        echo "## test_ops failures (first 40 lines)"
        echo
        echo '```'
        grep '^FAIL' "$OUT/test_ops.log" | head -n 40
        echo '```'
    fi
    for tool in memcheck racecheck; do
        if [ -f "$OUT/$tool.log" ] &&
            grep -qE '^========= (Invalid|Error|Race|Warning|Program hit)' "$OUT/$tool.log"; then
            echo
            echo "## $tool findings (first 40 lines)"
            echo
            echo '```'
            grep -E '^=========' "$OUT/$tool.log" | head -n 40
            echo '```'
        fi
    done
} >"$OUT/report.md"

echo "report: $OUT/report.md ($overall)"
exit "$FAILED"
