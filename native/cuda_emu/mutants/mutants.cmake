# Planted bugs for the emulated CUDA suite (run_mutants.cmake applies them one at a time to a copy of native/).
# Each: quarry_mutant(<name> <file under native/> <test program> <QUARRY_TEST_FILTER> <original text> <planted text>
# [VAR=value ...]), the optional settings added to the test run's environment.
# The original text must occur exactly once, so a mutant that no longer applies fails instead of passing silently.

quarry_mutant("off-by-one bound: GEMM loader reads k = K" cuda/linear.cu test_ops "linear n="
  [==[ra[l] = row[l] < M && ka < K ?]==]
  [==[ra[l] = row[l] < M && ka <= K ?]==])

quarry_mutant("missing barrier: tile main loop refills shared memory while others read it" cuda/common.cuh test_ops
  "linear n="
  [==[            for (int j = 0; j < 4; ++j) acc[i][j] += part[i][j];
        __syncthreads();]==]
  [==[            for (int j = 0; j < 4; ++j) acc[i][j] += part[i][j];]==])

quarry_mutant("wrong shuffle lane: log-softmax warp sum" cuda/softmax.cu test_ops "log_softmax"
  [==[for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);]==]
  [==[for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o ^ 1);]==])

quarry_mutant("swapped mma fragments: A and B of the fp64 m8n8k4" cuda/acquire.cu test_ops "joint_entropy exact"
  [==[qy::ptx::mma_m8n8k4_f64(acc[mi][ni][0], acc[mi][ni][1], af[mi], bf[ni]);]==]
  [==[qy::ptx::mma_m8n8k4_f64(acc[mi][ni][0], acc[mi][ni][1], bf[ni], af[mi]);]==])

quarry_mutant("wrong Philox counter: dropout unit group" cuda/elementwise.cu test_ops "dropout"
  [==[qy::philox4x32_10(qy::U4{(uint32_t)q, (uint32_t)k,]==]
  [==[qy::philox4x32_10(qy::U4{(uint32_t)q + 1u, (uint32_t)k,]==])

quarry_mutant("race on shared memory: LARS norm reduction without its barrier" cuda/lars.cu test_ssl "lars n="
  [==[        if ((int)threadIdx.x < half) lanes[threadIdx.x] += lanes[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = lanes[0];]==]
  [==[        if ((int)threadIdx.x < half) lanes[threadIdx.x] += lanes[threadIdx.x + half];
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = lanes[0];]==])

quarry_mutant("stride error: swap01 source row stride" cuda/elementwise.cu test_ops "swap01"
  [==[y[i] = x[(a * nb + b) * nc + c];]==]
  [==[y[i] = x[(a * na + b) * nc + c];]==])

quarry_mutant("dropped tail: fill_uniform skips the last partial group of 4" cuda/elementwise.cu test_ops "fill_uniform"
  [==[    QY_GRID_STRIDE(b, (n + 3) / 4) {
        const qy::U4 r = qy::fill_block(seed, stream_id, (uint64_t)b);
#pragma unroll
        for (int j = 0; j < 4; ++j)]==]
  [==[    QY_GRID_STRIDE(b, n / 4) {
        const qy::U4 r = qy::fill_block(seed, stream_id, (uint64_t)b);
#pragma unroll
        for (int j = 0; j < 4; ++j)]==])

quarry_mutant("shuffle mask omits a participating lane: acquisition warp sum" cuda/acquire.cu test_ops "acq_score n=5 "
  [==[for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFull, v, o);]==]
  [==[for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0x7fffffffu, v, o);]==])

quarry_mutant("barrier reached by only some threads: a LARS thread returns early" cuda/lars.cu test_ssl "lars n="
  [==[        acc.b += g * g;
    }
    lanes[threadIdx.x] = acc;]==]
  [==[        acc.b += g * g;
    }
    if (threadIdx.x == kThreads - 1) return;
    lanes[threadIdx.x] = acc;]==])

quarry_mutant("32-bit index: fill's grid-stride loop wraps past 2^31 elements" cuda/elementwise.cu test_bigindex "fill"
  [==[    QY_GRID_STRIDE(i, n) out[i] = value;]==]
  [==[    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) out[i] = value;]==]
  QY_CUDA_EMU_BLOCKS=0)
