#!/usr/bin/env bash
# Validates Quarry's native library on a GPU host that has the NVIDIA driver, the CUDA toolkit (nvcc,
# compute-sanitizer), CMake and a C++ compiler, and needs neither Java, Maven nor the network:
#
#   benchmarks/gpu/validate.sh OUT_DIR
#
# Steps: record the GPU (nvidia-smi) and toolchain versions; configure and build native/ with CMake into build-gpu/
# (CUDA required, built-in GEMM instead of OpenBLAS); run test_ops, the CPU reference and CUDA-vs-CPU parity suite,
# with QUARRY_REQUIRE_GPU=1; run test_ops under compute-sanitizer memcheck and racecheck; the same three steps for
# test_contrastive (the contrastive losses' suite: test_contrastive, contrastive_memcheck, contrastive_racecheck);
# run test_ssl (the SimCLR augmentation and LARS suite) alone and under memcheck; test_ptx (the bf16/tf32 mma.sync,
# ldmatrix and cp.async building blocks of native/cuda/ptx.cuh against float64); test_bigindex (ops over 2^31 + 5
# elements, about 32 GiB of device memory); then the benchmarks:
# bench_ops (Quarry's kernels, OUT_DIR/bench_ops.json); resnet_check (bench_resnet --check with QUARRY_REQUIRE_GPU=1:
# the composed ResNet-18 against finite differences, and its CUDA training steps and the ConvNet's MC inference against
# the CPU's); bench_resnet (ResNet-18 CIFAR training at batch 512 and ConvNet MC inference, pool 10,000, K = 100,
# OUT_DIR/bench_resnet.json); benchmarks/peers/torch_resnet.py (the same two in PyTorch at fp32, TF32 and bf16
# autocast, OUT_DIR/torch_resnet.json); benchmarks/peers/torch_ops.py (bench_ops's workloads in PyTorch,
# OUT_DIR/torch_ops.json; the PyTorch steps are skipped with a note when python3 cannot import torch); and
# benchmarks/gpu/compare.py twice: compare (the kernel ratio table, OUT_DIR/compare.md) and resnet_compare (images/s
# ratios, OUT_DIR/resnet_compare.md), both appended to the report; sweep_gpu (optional: the distribution's
# `quarry info` and a shortened MNIST sweep on the GPU, when target/quarry-*-linux-x86_64.tar.gz travels along). Every step runs even when an earlier one failed
# (those that need test_ops, bench_ops or their JSON are skipped without them). Writes OUT_DIR/report.md (a table:
# step, status, time, key numbers; rewritten after every step, so a run cut short still leaves one) and
# OUT_DIR/<step>.log, the full output of each step. Exits 1 if any step failed (a failed or timed-out benchmark
# counts, and so does a step left without time).
#
# Emulated dry run (QUARRY_EMULATE=1, on any machine without a GPU): the same script builds the emulated CUDA backend
# (native/cuda_emu) instead, runs the *_cuda_emu twins of the three test programs in the test steps, and records the
# steps that need a GPU (gpu, sanitizers, benchmarks) as SKIP. It checks the script and the suites before a GPU call.
#
# Time: the whole run is held to QUARRY_TOTAL_BUDGET seconds (default 480: correctness, memcheck and the benchmarks
# in one 8-minute device call; 0 = no budget). Each step's limit is its own (QUARRY_STEP_TIMEOUT, default 1800, or QUARRY_BENCH_TIMEOUT,
# default 300, for the benchmark steps) capped by what is left of the budget; the steps before the benchmarks also
# leave QUARRY_BENCH_RESERVE seconds (default 300) for them; resnet_check, bench_resnet and torch_resnet are each also
# capped at QUARRY_RESNET_TIMEOUT seconds (default 150) so that they cannot starve torch_ops. Expected on an H100:
# bench_ops ~1 min, resnet_check ~20 s, bench_resnet and torch_resnet under a minute each (not yet measured),
# torch_ops ~2 min (torch.compile capped at 60 s), compare < 1 s.
#
# Environment: the time limits above; QUARRY_SKIP (space-separated step names not to run, e.g. "memcheck racecheck",
# reported as SKIP); QUARRY_CUDA_ARCHITECTURES (passed to CMake as CMAKE_CUDA_ARCHITECTURES, e.g. 90-real to build
# for this card only and compile faster; default 90-real, the H100/H200's own code); QUARRY_BUILD_JOBS (parallel compile
# jobs, default: all cores). The test programs run with CUDA_LAUNCH_BLOCKING=1, so a fault is named at the op that
# made it. Before a build that runs, every binary and library in the build folder is removed, so a stale one cannot
# stand in for a failed build; a carried prebuilt build (QUARRY_SKIP="configure build") is used as it is.
set -u

if [ "$#" -ne 1 ]; then
    echo "usage: $0 OUT_DIR" >&2
    exit 2
fi
mkdir -p "$1" || exit 2
OUT="$(cd "$1" && pwd)"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
EMULATE="${QUARRY_EMULATE:-0}"
if [ "$EMULATE" = 1 ]; then
    BUILD="$ROOT/build-cuda-emu"
    EMU_SUFFIX=_cuda_emu
else
    BUILD="$ROOT/build-gpu"
    EMU_SUFFIX=""
fi
TEST="$BUILD/test_ops$EMU_SUFFIX"
CONTRASTIVE_TEST="$BUILD/test_contrastive$EMU_SUFFIX"
BENCH="$BUILD/bench_ops"
RESNET="$BUILD/bench_resnet"
STEP_TIMEOUT="${QUARRY_STEP_TIMEOUT:-1800}"
BENCH_TIMEOUT="${QUARRY_BENCH_TIMEOUT:-300}"
TOTAL_BUDGET="${QUARRY_TOTAL_BUDGET:-480}"
BENCH_RESERVE="${QUARRY_BENCH_RESERVE:-300}"
RESNET_TIMEOUT="${QUARRY_RESNET_TIMEOUT:-150}"
SKIP_STEPS=" ${QUARRY_SKIP:-} "
BUILD_JOBS="${QUARRY_BUILD_JOBS:-$(nproc)}"
for v in STEP_TIMEOUT BENCH_TIMEOUT TOTAL_BUDGET BENCH_RESERVE RESNET_TIMEOUT; do
    case "${!v}" in
        '' | *[!0-9]*)
            echo "$0: $v must be a whole number of seconds, got '${!v}'" >&2
            exit 2
            ;;
    esac
done
cd "$ROOT" || exit 2
# Idle OpenMP workers must not spin on the cores OpenBLAS or the host side needs (the Java front end sets the same).
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
# Launches complete before the host goes on, so a kernel fault is reported by the op that launched it.
export CUDA_LAUNCH_BLOCKING=1

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
PHASE=checks  # checks, then bench: which limit set_step_limit applies
STEP_LIMIT="$STEP_TIMEOUT"
BUDGET_BOUND=0

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
START="$(now)"

# record NAME STATUS SECONDS KEY-NUMBERS: one row of the report table; rewrites the report.
record() {
    ROWS+=("| $1 | $2 | $3 | $4 |")
    [ "$2" = FAIL ] && FAILED=1
    printf '%-12s %-5s %7ss  %s\n' "$1" "$2" "$3" "$4"
    write_report "RUNNING (incomplete)"
}

# set_step_limit [HOLD]: STEP_LIMIT = seconds the next step may run: its phase's own limit, capped by what is left of
# QUARRY_TOTAL_BUDGET less HOLD seconds kept for later steps (default: QUARRY_BENCH_RESERVE before the benchmarks,
# 15 s for compare during them); BUDGET_BOUND=1 when the budget set it.
set_step_limit() {
    local hold="${1:-$BENCH_RESERVE}" left
    STEP_LIMIT="$STEP_TIMEOUT"
    BUDGET_BOUND=0
    if [ "$PHASE" = bench ]; then
        STEP_LIMIT="$BENCH_TIMEOUT"
        hold="${1:-15}"
    fi
    [ "$TOTAL_BUDGET" -eq 0 ] && return
    left="$(awk -v b="$TOTAL_BUDGET" -v s="$START" -v n="$(now)" -v h="$hold" 'BEGIN { printf "%d", b - (n - s) - h }')"
    if [ "$left" -lt "$STEP_LIMIT" ]; then
        STEP_LIMIT="$left"
        BUDGET_BOUND=1
    fi
}

# can_run NAME [HOLD]: whether step NAME should run now; sets STEP_LIMIT (HOLD: as for set_step_limit). A step named
# in QUARRY_SKIP is recorded as SKIP, one that the budget leaves under 5 s as FAIL; both return 1.
GPU_ONLY_STEPS=" gpu memcheck racecheck contrastive_memcheck contrastive_racecheck memcheck_ssl bench_ops resnet_check
    bench_resnet torch_resnet torch_ops compare resnet_compare "
can_run() {
    if [ "$EMULATE" = 1 ] && [[ "$GPU_ONLY_STEPS" == *" $1 "* ]]; then
        echo "skipped: emulated dry run (QUARRY_EMULATE=1), needs a GPU" >"$OUT/$1.log"
        record "$1" SKIP 0.0 "emulated dry run: needs a GPU"
        return 1
    fi
    case "$SKIP_STEPS" in
        *" $1 "*)
            echo "skipped: named in QUARRY_SKIP" >"$OUT/$1.log"
            record "$1" SKIP 0.0 "skipped: named in QUARRY_SKIP"
            return 1
            ;;
    esac
    set_step_limit "${2:-}"
    if [ "$BUDGET_BOUND" -eq 1 ] && [ "$STEP_LIMIT" -lt 5 ]; then
        echo "not run: ${STEP_LIMIT}s left of QUARRY_TOTAL_BUDGET=${TOTAL_BUDGET}s" >"$OUT/$1.log"
        record "$1" FAIL 0.0 "not run: no time left of QUARRY_TOTAL_BUDGET=${TOTAL_BUDGET}s"
        return 1
    fi
}

# run_step NAME COMMAND...: runs the command within STEP_LIMIT seconds, its output into OUT/NAME.log; sets STEP_RC,
# STEP_SECS.
run_step() {
    local name="$1" start
    shift
    {
        printf '$'
        printf ' %q' "$@"
        printf '\n'
    } >"$OUT/$name.log"
    start="$(now)"
    timeout --kill-after=10 "$STEP_LIMIT" "$@" >>"$OUT/$name.log" 2>&1
    STEP_RC=$?
    STEP_SECS="$(elapsed "$start" "$(now)")"
    if [ "$STEP_RC" -eq 124 ] || [ "$STEP_RC" -eq 137 ]; then
        echo "validate.sh: timed out after ${STEP_LIMIT}s" >>"$OUT/$name.log"
    fi
}

status_of() { if [ "$1" -eq 0 ]; then echo PASS; else echo FAIL; fi; }

# last_match PATTERN FILE: the last line of FILE matching PATTERN, '|' escaped for the table.
last_match() { grep -E "$1" "$2" 2>/dev/null | tail -n 1 | sed -e 's/^=* *//' -e 's/|/\\|/g'; }

# sanitizer_note STEP [PROGRAM]: compute-sanitizer's summary lines and the test program's own result line (PROGRAM,
# default test_ops) from OUT/STEP.log.
sanitizer_note() {
    local summary
    summary="$(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' "$OUT/$1.log" | sed -e 's/^=* *//' | paste -sd ';' - | sed -e 's/;/; /g')"
    echo "${summary:-no sanitizer summary}; ${2:-test_ops}: $(last_match '^[0-9]+ passed' "$OUT/$1.log")"
}

timed_out_note() {
    if [ "$STEP_RC" -eq 124 ] || [ "$STEP_RC" -eq 137 ]; then echo "; timed out after ${STEP_LIMIT}s"; fi
}

# write_report STATUS: OUT/report.md from the rows so far, the failure excerpts and the benchmark comparison.
write_report() {
    local commit
    commit="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    if [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ]; then commit="$commit (with uncommitted changes)"; fi
    {
        echo "# Quarry GPU validation: $1"
        echo
        echo "$(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(hostname), commit $commit, from \`benchmarks/gpu/validate.sh\`."
        echo
        echo "| step | status | time (s) | key numbers |"
        echo "|---|---|---|---|"
        printf '%s\n' "${ROWS[@]}"
        echo
        echo "Full output of each step: \`<step>.log\` in this folder. SKIP: a step that needs an earlier one that"
        echo "failed, or one named in QUARRY_SKIP."
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
        if [ -s "$OUT/resnet_compare.md" ]; then
            echo
            cat "$OUT/resnet_compare.md"
        elif [ -f "$OUT/bench_resnet.log" ] && grep -qE '^(resnet18_train|convnet_mc)' "$OUT/bench_resnet.log"; then
            echo
            echo "## Quarry whole-model timings (bench_resnet; no PyTorch comparison)"
            echo
            echo '```'
            grep -E '^(resnet18_train|convnet_mc)' "$OUT/bench_resnet.log"
            echo '```'
        fi
        if [ -s "$OUT/compare.md" ]; then
            echo
            cat "$OUT/compare.md"
        elif [ -f "$OUT/bench_ops.log" ] && grep -q '^workload' "$OUT/bench_ops.log"; then
            echo
            echo "## Quarry kernel timings (bench_ops; no PyTorch comparison)"
            echo
            echo '```'
            sed -n '/^workload/,$p' "$OUT/bench_ops.log" | head -n 80
            echo '```'
        fi
    } >"$OUT/report.md"
}

# ---- gpu: the driver's view of the card ----
if [ "$EMULATE" != 1 ] && ! command -v nvidia-smi >/dev/null 2>&1; then
    echo "nvidia-smi not found" >"$OUT/gpu.log"
    record gpu FAIL 0.0 "nvidia-smi not found"
elif can_run gpu; then
    run_step gpu bash -c 'nvidia-smi && echo &&
        nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap,clocks.max.sm --format=csv'
    gpu_line="$(grep -A1 '^name, driver_version' "$OUT/gpu.log" | tail -n 1)"
    record gpu "$(status_of "$STEP_RC")" "$STEP_SECS" "${gpu_line:-no GPU listed}$(timed_out_note)"
fi

# ---- toolchain: compiler and tool versions ----
if [ -z "$NVCC" ] && [ "$EMULATE" != 1 ]; then
    echo "nvcc not found in /usr/local/cuda/bin or on PATH" >"$OUT/toolchain.log"
    record toolchain FAIL 0.0 "nvcc not found"
elif can_run toolchain; then
    # shellcheck disable=SC2016  # the inner script takes nvcc and compute-sanitizer as $1 and $2
    run_step toolchain bash -c 'if [ -n "$1" ]; then "$1" --version; else echo "nvcc not found"; fi; echo; cmake --version; echo; "${CXX:-c++}" --version; echo;
        if [ -n "$2" ]; then "$2" --version; else echo "compute-sanitizer not found"; fi; echo; uname -a;
        echo; python3 --version 2>&1 || echo "python3 not found"' \
        _ "$NVCC" "$SANITIZER"
    nvcc_line="$(last_match 'release [0-9]' "$OUT/toolchain.log")"
    cmake_line="$(last_match '^cmake version' "$OUT/toolchain.log")"
    record toolchain "$(status_of "$STEP_RC")" "$STEP_SECS" "nvcc: ${nvcc_line:-?} (${NVCC:-none}); ${cmake_line:-cmake ?}"
fi

# ---- configure and build ----
cmake_args=(-S native -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DQUARRY_OPENBLAS=OFF)
build_targets=()
if [ "$EMULATE" = 1 ]; then
    cmake_args+=(-DQUARRY_CUDA=OFF -DQUARRY_CUDA_EMU=ON)
    build_targets=(--target test_ops_cuda_emu test_contrastive_cuda_emu test_ssl_cuda_emu test_ptx_cuda_emu
        test_bigindex_cuda_emu)
else
    # The emulated twin is for machines without a GPU: not built here.
    cmake_args+=(-DQUARRY_REQUIRE_CUDA=ON -DQUARRY_CUDA_EMU=OFF
        "-DCMAKE_CUDA_ARCHITECTURES=${QUARRY_CUDA_ARCHITECTURES:-90-real}")
    if [ -n "$NVCC" ]; then cmake_args+=("-DCMAKE_CUDA_COMPILER=$NVCC"); fi
fi
configure_rc=1
if can_run configure; then
    run_step configure cmake "${cmake_args[@]}"
    configure_rc=$STEP_RC
    record configure "$(status_of "$STEP_RC")" "$STEP_SECS" \
        "$(last_match 'Quarry: CUDA backend' "$OUT/configure.log")$(timed_out_note)"
fi

SSL_TEST="$BUILD/test_ssl$EMU_SUFFIX"
case "$SKIP_STEPS" in *" configure "*) configure_rc=0 ;; esac  # a carried, configured build
if [ "$configure_rc" -ne 0 ]; then
    echo "skipped: configure failed" >"$OUT/build.log"
    record build SKIP 0.0 "configure failed"
elif can_run build; then
    # A stale binary or library must not stand in for a failed build.
    rm -f "$BUILD"/lib*.so* "$BUILD"/test_* "$BUILD"/bench_*
    run_step build cmake --build "$BUILD" -j "$BUILD_JOBS" "${build_targets[@]}"
    build_note="$(grep -c 'warning' "$OUT/build.log") warning line(s)"
    if [ "$STEP_RC" -ne 0 ]; then
        build_note="first error: $(grep -E 'error|fatal|undefined reference' "$OUT/build.log" | grep -vE '^g?make' |
            head -n 1 | cut -c 1-160 | sed -e 's/|/\\|/g')"
    fi
    record build "$(status_of "$STEP_RC")" "$STEP_SECS" "$build_note$(timed_out_note)"
fi

# ---- tests ----
if [ -x "$TEST" ]; then
    if can_run test_ops; then
        run_step test_ops env QUARRY_REQUIRE_GPU=1 "$TEST"
        summary="$(last_match '^[0-9]+ passed, [0-9]+ failed' "$OUT/test_ops.log")"
        record test_ops "$(status_of "$STEP_RC")" "$STEP_SECS" "${summary:-no summary (crashed?)}$(timed_out_note)"
    fi
    for tool in memcheck racecheck; do
        if [ "$EMULATE" != 1 ] && [ -z "$SANITIZER" ]; then
            echo "compute-sanitizer not found" >"$OUT/$tool.log"
            record "$tool" FAIL 0.0 "compute-sanitizer not found"
        elif can_run "$tool"; then
            run_step "$tool" env QUARRY_REQUIRE_GPU=1 "$SANITIZER" --tool "$tool" --error-exitcode 1 "$TEST"
            record "$tool" "$(status_of "$STEP_RC")" "$STEP_SECS" "$(sanitizer_note "$tool")$(timed_out_note)"
        fi
    done
else
    for step in test_ops memcheck racecheck; do
        echo "skipped: $TEST was not built" >"$OUT/$step.log"
        record "$step" SKIP 0.0 "test_ops not built"
    done
fi
# The contrastive losses have their own test program (native/tests/test_contrastive.cpp), checked the same way.
if [ -x "$CONTRASTIVE_TEST" ]; then
    if can_run test_contrastive; then
        run_step test_contrastive env QUARRY_REQUIRE_GPU=1 "$CONTRASTIVE_TEST"
        summary="$(last_match '^[0-9]+ passed, [0-9]+ failed' "$OUT/test_contrastive.log")"
        record test_contrastive "$(status_of "$STEP_RC")" "$STEP_SECS" "${summary:-no summary (crashed?)}$(timed_out_note)"
    fi
    for tool in memcheck racecheck; do
        if [ "$EMULATE" != 1 ] && [ -z "$SANITIZER" ]; then
            echo "compute-sanitizer not found" >"$OUT/contrastive_$tool.log"
            record "contrastive_$tool" FAIL 0.0 "compute-sanitizer not found"
        elif can_run "contrastive_$tool"; then
            run_step "contrastive_$tool" env QUARRY_REQUIRE_GPU=1 "$SANITIZER" --tool "$tool" --error-exitcode 1 \
                "$CONTRASTIVE_TEST"
            record "contrastive_$tool" "$(status_of "$STEP_RC")" "$STEP_SECS" \
                "$(sanitizer_note "contrastive_$tool" test_contrastive)$(timed_out_note)"
        fi
    done
else
    for step in test_contrastive contrastive_memcheck contrastive_racecheck; do
        echo "skipped: $CONTRASTIVE_TEST was not built" >"$OUT/$step.log"
        record "$step" SKIP 0.0 "test_contrastive not built"
    done
fi

# ---- the SimCLR ops (view augmentation, LARS): their own suite, CUDA parity included, and memcheck over it ----
if [ ! -x "$SSL_TEST" ]; then
    for step in test_ssl memcheck_ssl; do
        echo "skipped: $SSL_TEST was not built" >"$OUT/$step.log"
        record "$step" SKIP 0.0 "test_ssl not built"
    done
else
    if can_run test_ssl; then
        run_step test_ssl env QUARRY_REQUIRE_GPU=1 "$SSL_TEST"
        summary="$(last_match '^[0-9]+ passed, [0-9]+ failed' "$OUT/test_ssl.log")"
        record test_ssl "$(status_of "$STEP_RC")" "$STEP_SECS" "${summary:-no summary (crashed?)}$(timed_out_note)"
    fi
    if [ "$EMULATE" != 1 ] && [ -z "$SANITIZER" ]; then
        echo "compute-sanitizer not found" >"$OUT/memcheck_ssl.log"
        record memcheck_ssl FAIL 0.0 "compute-sanitizer not found"
    elif can_run memcheck_ssl; then
        run_step memcheck_ssl env QUARRY_REQUIRE_GPU=1 "$SANITIZER" --tool memcheck --error-exitcode 1 "$SSL_TEST"
        summary="$(last_match '^[0-9]+ passed, [0-9]+ failed' "$OUT/memcheck_ssl.log")"
        record memcheck_ssl "$(status_of "$STEP_RC")" "$STEP_SECS" "test_ssl: ${summary:-no summary}$(timed_out_note)"
    fi
fi

# test_program STEP [VAR=value ...]: runs $BUILD/STEP (its _cuda_emu twin when emulated) with QUARRY_REQUIRE_GPU=1
# and the settings given, and records its tally line; SKIP when it was not built.
test_program() {
    local step="$1" binary="$BUILD/$1$EMU_SUFFIX" summary
    shift
    if [ ! -x "$binary" ]; then
        echo "skipped: $binary was not built" >"$OUT/$step.log"
        record "$step" SKIP 0.0 "$step not built"
    elif can_run "$step"; then
        run_step "$step" env QUARRY_REQUIRE_GPU=1 "$@" "$binary"
        summary="$(last_match '^[0-9]+ passed, [0-9]+ failed' "$OUT/$step.log")"
        record "$step" "$(status_of "$STEP_RC")" "$STEP_SECS" "${summary:-no summary (crashed?)}$(timed_out_note)"
    fi
}
# The PTX building blocks (bf16/tf32 mma.sync, ldmatrix, cp.async) against float64: layouts checked on hardware.
test_program test_ptx
# Index arithmetic past 2^31 elements (about 32 GiB of device memory; emulated: block 0 of each launch).
test_program test_bigindex QY_CUDA_EMU_BLOCKS=0

# ---- benchmarks: Quarry's kernels, the same workloads in PyTorch, the ratio table ----
PHASE=bench
QUARRY_JSON="$OUT/bench_ops.json"
PEER_JSON="$OUT/torch_ops.json"
RESNET_JSON="$OUT/bench_resnet.json"
RESNET_PEER_JSON="$OUT/torch_resnet.json"
# Results of an earlier run must not pass for this one's.
rm -f "$QUARRY_JSON" "$PEER_JSON" "$OUT/compare.md" "$RESNET_JSON" "$RESNET_PEER_JSON" "$OUT/resnet_compare.md"

if [ ! -x "$BENCH" ]; then
    echo "skipped: $BENCH was not built" >"$OUT/bench_ops.log"
    record bench_ops SKIP 0.0 "bench_ops not built"
elif can_run bench_ops; then
    run_step bench_ops "$BENCH" --device cuda --json "$QUARRY_JSON"
    summary="$(last_match '^[0-9]+ workloads, [0-9]+ failed' "$OUT/bench_ops.log")"
    greedy="$(grep -E '^batchbald_greedy' "$OUT/bench_ops.log" | tail -n 1 | awk '{ print $1 " " $3 " ms" }')"
    record bench_ops "$(status_of "$STEP_RC")" "$STEP_SECS" \
        "${summary:-no summary (crashed?)}${greedy:+; $greedy}$(timed_out_note)"
fi

# cap_limit SECONDS: lowers STEP_LIMIT (set by can_run) to SECONDS.
cap_limit() { if [ "$STEP_LIMIT" -gt "$1" ]; then STEP_LIMIT="$1"; fi; }

# model_rows LOG: "workload precision images/s" of each whole-model row of a bench_resnet / torch_resnet.py log.
model_rows() {
    grep -E '^(resnet18_train|convnet_mc)' "$1" 2>/dev/null |
        awk '{ print $1 " " $2 " " $3 ($4 == "img/s" ? " img/s" : "") }' |
        paste -sd ';' - | sed -e 's/;/; /g' -e 's/|/\\|/g'
}

# ResNet-18 training and ConvNet MC inference: correctness first, then Quarry's timing, then PyTorch's.
resnet_check_rc=1
if [ ! -x "$RESNET" ]; then
    for step in resnet_check bench_resnet; do
        echo "skipped: $RESNET was not built" >"$OUT/$step.log"
        record "$step" SKIP 0.0 "bench_resnet not built"
    done
else
    if can_run resnet_check; then
        cap_limit "$RESNET_TIMEOUT"
        run_step resnet_check env QUARRY_REQUIRE_GPU=1 "$RESNET" --check
        resnet_check_rc=$STEP_RC
        summary="$(last_match '^[0-9]+ passed, [0-9]+ failed' "$OUT/resnet_check.log")"
        record resnet_check "$(status_of "$STEP_RC")" "$STEP_SECS" "${summary:-no summary (crashed?)}$(timed_out_note)"
    fi
    if can_run bench_resnet; then
        cap_limit "$RESNET_TIMEOUT"
        run_step bench_resnet "$RESNET" --device cuda --json "$RESNET_JSON"
        note="$(model_rows "$OUT/bench_resnet.log")"
        if [ "$resnet_check_rc" -ne 0 ]; then note="resnet_check did not pass: numbers unverified; $note"; fi
        record bench_resnet "$(status_of "$STEP_RC")" "$STEP_SECS" "${note:-no results (crashed?)}$(timed_out_note)"
    fi
fi

torch_version=""
if command -v python3 >/dev/null 2>&1; then
    torch_version="$(timeout 120 python3 -c 'import torch; print(torch.__version__)' 2>"$OUT/torch_import.log")" ||
        torch_version=""
fi
for step in torch_resnet torch_ops; do
    if ! command -v python3 >/dev/null 2>&1; then
        echo "skipped: python3 not found" >"$OUT/$step.log"
        record "$step" SKIP 0.0 "python3 not found: no PyTorch comparison"
    elif [ -z "$torch_version" ]; then
        cp "$OUT/torch_import.log" "$OUT/$step.log"
        record "$step" SKIP 0.0 "PyTorch not importable by python3: no PyTorch comparison (see $step.log)"
    elif can_run "$step"; then
        if [ "$step" = torch_resnet ]; then
            cap_limit "$RESNET_TIMEOUT"
            run_step torch_resnet python3 "$ROOT/benchmarks/peers/torch_resnet.py" --device cuda \
                --json "$RESNET_PEER_JSON"
            note="$(model_rows "$OUT/torch_resnet.log")"
        else
            run_step torch_ops python3 "$ROOT/benchmarks/peers/torch_ops.py" --device cuda --json "$PEER_JSON"
            note="$(last_match '^[0-9]+ workloads, [0-9]+ failed' "$OUT/torch_ops.log")"
        fi
        record "$step" "$(status_of "$STEP_RC")" "$STEP_SECS" \
            "torch $torch_version; ${note:-no results (crashed or cut short; partial JSON kept)}$(timed_out_note)"
    fi
done

# Runs on whatever both JSON files hold, also after a benchmark failed or was cut short.
if [ ! -s "$QUARRY_JSON" ] || [ ! -s "$PEER_JSON" ]; then
    echo "skipped: needs both $QUARRY_JSON and $PEER_JSON" >"$OUT/compare.log"
    record compare SKIP 0.0 "needs both bench_ops.json and torch_ops.json"
elif can_run compare 0; then
    run_step compare python3 "$ROOT/benchmarks/gpu/compare.py" "$QUARRY_JSON" "$PEER_JSON" --out "$OUT/compare.md"
    note="$(last_match 'timed by both' "$OUT/compare.log" | sed -e 's/\.$//')"
    note="$note; $(last_match '^Geometric mean' "$OUT/compare.log")"
    record compare "$(status_of "$STEP_RC")" "$STEP_SECS" "${note}$(timed_out_note)"
fi

if [ ! -s "$RESNET_JSON" ] || [ ! -s "$RESNET_PEER_JSON" ]; then
    echo "skipped: needs both $RESNET_JSON and $RESNET_PEER_JSON" >"$OUT/resnet_compare.log"
    record resnet_compare SKIP 0.0 "needs both bench_resnet.json and torch_resnet.json"
elif can_run resnet_compare 0; then
    run_step resnet_compare python3 "$ROOT/benchmarks/gpu/compare.py" "$RESNET_JSON" "$RESNET_PEER_JSON" \
        --out "$OUT/resnet_compare.md"
    note="$(last_match 'timed by both' "$OUT/resnet_compare.log" | sed -e 's/\.$//')"
    record resnet_compare "$(status_of "$STEP_RC")" "$STEP_SECS" "${note}$(timed_out_note)"
fi

# ---- optional: the whole program on the GPU, from the self-contained distribution (no Java on the host) ----
# Runs when the tarball built by `mvn package` travels with the tree (target/quarry-*-linux-x86_64.tar.gz, or
# QUARRY_DIST=<tarball>): `quarry info`, then a shortened BatchBALD-vs-random sweep on the paper's MNIST protocol
# (full MNIST when datasets/mnist-full is present, else the shipped sample), held to QUARRY_SWEEP_TIMEOUT (240 s).
DIST_TARBALL="${QUARRY_DIST:-$(ls "$ROOT"/target/quarry-*-linux-x86_64.tar.gz 2>/dev/null | head -n 1)}"
if [ -z "$DIST_TARBALL" ] || [ ! -f "$DIST_TARBALL" ]; then
    echo "skipped: no distribution tarball (build it with mvn package and carry target/)" >"$OUT/sweep_gpu.log"
    record sweep_gpu SKIP 0.0 "no distribution tarball carried"
elif [ "$EMULATE" = 1 ]; then
    echo "skipped: emulated dry run (QUARRY_EMULATE=1), needs a GPU" >"$OUT/sweep_gpu.log"
    record sweep_gpu SKIP 0.0 "emulated dry run: needs a GPU"
elif can_run sweep_gpu 0; then
    cap_limit "${QUARRY_SWEEP_TIMEOUT:-240}"
    DIST_DIR="$BUILD/dist"
    rm -rf "$DIST_DIR" && mkdir -p "$DIST_DIR" && tar -xzf "$DIST_TARBALL" -C "$DIST_DIR"
    QUARRY_BIN="$(ls -d "$DIST_DIR"/*/bin/quarry 2>/dev/null | head -n 1)"
    if [ -d "$ROOT/datasets/mnist-full" ]; then
        data_args=(--dataset mnist --data-dir "$ROOT/datasets/mnist-full")
    else
        data_args=(--dataset mnist-sample --data-dir "$ROOT/datasets/mnist")
    fi
    # shellcheck disable=SC2016  # $1 is the launcher, the rest the sweep's data options
    run_step sweep_gpu env QUARRY_REQUIRE_GPU=1 bash -c 'q="$1"; shift; "$q" info && "$q" sweep \
        --strategies batchbald,random --seeds 0 --acquisition-sizes 10 --budget 60 --epochs 10 --pool-subset 2000 \
        --device cuda "$@" \
        --out "$0"' "$OUT/sweep" "$QUARRY_BIN" "${data_args[@]}"
    note="$(last_match 'labels-needed|^ *[0-9]+ +[0-9.]+ +[0-9.]+' "$OUT/sweep_gpu.log")"
    record sweep_gpu "$(status_of "$STEP_RC")" "$STEP_SECS" "${note:-see sweep_gpu.log}$(timed_out_note)"
fi

# ---- report ----
overall=PASS
if [ "$FAILED" -ne 0 ]; then overall=FAIL; fi
write_report "$overall"
echo "report: $OUT/report.md ($overall)"
exit "$FAILED"
