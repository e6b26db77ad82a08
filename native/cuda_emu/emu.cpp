// Quarry's CUDA emulator: the scheduler behind cuda_runtime.h and the runtime API it declares.
//
// A block runs as fibers, one per CUDA thread, on the launching host thread. A fiber switch saves the callee-saved
// registers, the SSE control word and the x87 control word, and swaps stack pointers (System V x86-64; ~10 ns, so
// a 256-thread block crossing a barrier costs microseconds, not the milliseconds of ucontext's signal-mask
// syscalls). Fibers that finish without blocking hand their stack to the next thread, so a kernel without barriers
// touches one stack; fibers that block keep theirs until released.
//
// The scheduler runs the block's fibers in thread order, each until it finishes or waits (block barrier or warp
// collective). The last thread to reach a barrier releases the others and continues; the last lane to reach a warp
// collective computes every lane's result (shuffle, vote, mma fragments) and continues. A thread that exits while
// others wait for it, a barrier reached at different source lines, lanes whose masks disagree, or a pass in which
// no thread can run stops the launch with a message (see cuda_runtime.h); the op then returns cudaErrorLaunchFailure.
#if !defined(__x86_64__)
#error "the CUDA emulator's fiber switch is written for x86-64 (System V)"
#endif

#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cuda_runtime.h"

extern "C" void qy_emu_switch(void** save_sp, void* load_sp);
extern "C" void qy_emu_fiber_entry();

// qy_emu_switch(save, load): push callee-saved state, *save = rsp, rsp = load, pop, ret.
// qy_emu_fiber_entry: the first "return address" of a new fiber: calls r13(r12) on an aligned stack.
asm(R"(
    .text
    .globl qy_emu_switch
    .hidden qy_emu_switch
    .type qy_emu_switch, @function
qy_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size qy_emu_switch, .-qy_emu_switch

    .globl qy_emu_fiber_entry
    .hidden qy_emu_fiber_entry
    .type qy_emu_fiber_entry, @function
qy_emu_fiber_entry:
    movq %r12, %rdi
    andq $-16, %rsp
    callq *%r13
    ud2
    .size qy_emu_fiber_entry, .-qy_emu_fiber_entry
)");

namespace qy_emu {

thread_local const ThreadState* tls_thread = nullptr;
thread_local BlockState tls_block{};

namespace {

constexpr size_t kStackBytes = 256 * 1024;  // virtual; only touched pages are committed

enum class State { NotStarted, Running, Ready, AtBarrier, AtWarp, Done };

struct Fiber {
    ThreadState ts{};
    State state = State::NotStarted;
    void* sp = nullptr;
    char* stack = nullptr;
    const char* file = nullptr;  // where it waits
    int line = 0;
    // A pending warp collective.
    WarpOp op = WarpOp::Sync;
    unsigned mask = 0;
    int param = 0, width = 32, words = 0;
    uint64_t in[8] = {};
    uint64_t* out = nullptr;
    // cp.async copies not yet done: groups committed (oldest first) and the open group.
    struct Copy {
        void* dst;
        const void* src;
        int bytes, src_bytes;
    };
    std::vector<std::vector<Copy>> groups;
    std::vector<Copy> open_group;
};

const char* op_name(WarpOp op) {
    switch (op) {
        case WarpOp::Sync: return "__syncwarp";
        case WarpOp::ShflIdx: return "__shfl_sync";
        case WarpOp::ShflXor: return "__shfl_xor_sync";
        case WarpOp::ShflDown: return "__shfl_down_sync";
        case WarpOp::ShflUp: return "__shfl_up_sync";
        case WarpOp::Ballot: return "__ballot_sync";
        case WarpOp::Any: return "__any_sync";
        case WarpOp::All: return "__all_sync";
        case WarpOp::MmaF64: return "mma.sync.m8n8k4.f64";
        case WarpOp::MmaBf16: return "mma.sync.m16n8k16.bf16";
        case WarpOp::MmaTf32: return "mma.sync.m16n8k8.tf32";
        case WarpOp::LdMatrix: return "ldmatrix.sync.m8n8";
    }
    return "?";
}

// Per host thread: the block being run.
struct Scheduler {
    std::vector<Fiber> fibers;
    std::vector<char*> free_stacks;
    std::vector<unsigned char> dyn_smem;
    void* sched_sp = nullptr;
    Fiber* current = nullptr;
    int at_barrier = 0;
    bool faulted = false;
    std::string fault_msg;
    ThreadBody body = nullptr;
    void* launch = nullptr;

    char* take_stack() {
        if (!free_stacks.empty()) {
            char* s = free_stacks.back();
            free_stacks.pop_back();
            return s;
        }
        const size_t page = (size_t)sysconf(_SC_PAGESIZE);
        void* m = mmap(nullptr, kStackBytes + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                       -1, 0);
        if (m == MAP_FAILED) {
            std::fprintf(stderr, "cuda_emu: cannot map a %zu-byte fiber stack\n", kStackBytes);
            std::abort();
        }
        mprotect(m, page, PROT_NONE);  // guard page: an overflow faults instead of corrupting a neighbour
        return static_cast<char*>(m) + page;
    }
    void give_stack(Fiber& f) {
        if (f.stack) free_stacks.push_back(f.stack);
        f.stack = nullptr;
    }
    std::string where(const Fiber& f) const {
        char buf[64];
        std::snprintf(buf, sizeof buf, "thread (%u,%u,%u)", f.ts.thread_idx.x, f.ts.thread_idx.y, f.ts.thread_idx.z);
        return buf;
    }
};

thread_local Scheduler tls_sched;

std::string vformat(const char* fmt, va_list ap) {
    char buf[1024];
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    return buf;
}
std::string format(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::string s = vformat(fmt, ap);
    va_end(ap);
    return s;
}

void yield_to_scheduler() {
    Scheduler& s = tls_sched;
    qy_emu_switch(&s.current->sp, s.sched_sp);
}

// Records the fault and, when called on a fiber, leaves it for good.
void raise_fault(std::string msg) {
    Scheduler& s = tls_sched;
    if (!s.faulted) {
        s.faulted = true;
        s.fault_msg = std::move(msg);
    }
    if (s.current) {
        s.current->state = State::Done;
        Fiber* f = s.current;
        qy_emu_switch(&f->sp, s.sched_sp);
        __builtin_unreachable();
    }
}

void fiber_main(Fiber* f) {
    Scheduler& s = tls_sched;
    s.body(s.launch);
    // Exiting while others wait for this thread is a barrier or collective that can never complete.
    if (s.at_barrier > 0) {
        for (Fiber& o : s.fibers)
            if (o.state == State::AtBarrier) {
                raise_fault(format("%s exited while %d thread(s) wait at __syncthreads (%s:%d): a barrier not "
                                   "reached by every thread of the block", s.where(*f).c_str(), s.at_barrier,
                                   o.file, o.line));
            }
    }
    const int base = f->ts.linear & ~31, lane = f->ts.linear & 31;
    for (int j = 0; j < 32 && base + j < (int)s.fibers.size(); ++j) {
        Fiber& o = s.fibers[base + j];
        if (o.state == State::AtWarp && ((o.mask >> lane) & 1u))
            raise_fault(format("%s (lane %d) exited while lane %d waits for it in %s (%s:%d) with mask 0x%08x",
                               s.where(*f).c_str(), lane, j, op_name(o.op), o.file, o.line, o.mask));
    }
    f->state = State::Done;
    qy_emu_switch(&f->sp, s.sched_sp);
    __builtin_unreachable();
}

void start_fiber(Fiber& f) {
    Scheduler& s = tls_sched;
    f.stack = s.take_stack();
    // Initial frame, low to high: control words, r15, r14, r13 (entry), r12 (argument), rbx, rbp, return address.
    uintptr_t top = ((uintptr_t)(f.stack + kStackBytes)) & ~(uintptr_t)15;
    uint64_t* sp = reinterpret_cast<uint64_t*>(top - 128);
    const uint32_t mxcsr = 0x1f80, fpucw = 0x037f;
    std::memcpy(&sp[0], &mxcsr, 4);
    std::memcpy(reinterpret_cast<char*>(&sp[0]) + 4, &fpucw, 4);
    sp[1] = 0;                                   // r15
    sp[2] = 0;                                   // r14
    sp[3] = reinterpret_cast<uint64_t>(&fiber_main);  // r13
    sp[4] = reinterpret_cast<uint64_t>(&f);      // r12
    sp[5] = 0;                                   // rbx
    sp[6] = 0;                                   // rbp
    sp[7] = reinterpret_cast<uint64_t>(&qy_emu_fiber_entry);
    sp[8] = 0;
    f.sp = sp;
}

void run_fiber(Fiber& f) {
    Scheduler& s = tls_sched;
    if (f.state == State::NotStarted) start_fiber(f);
    f.state = State::Running;
    s.current = &f;
    tls_thread = &f.ts;
    qy_emu_switch(&s.sched_sp, f.sp);
    s.current = nullptr;
    tls_thread = nullptr;
    if (f.state == State::Done) s.give_stack(f);
}

std::string describe_waits(const Scheduler& s) {
    std::string out;
    int listed = 0;
    for (const Fiber& f : s.fibers) {
        if (f.state != State::AtBarrier && f.state != State::AtWarp) continue;
        if (listed++ == 4) {
            out += "; ...";
            break;
        }
        out += format("%s%s waits at %s (%s:%d)", out.empty() ? "" : "; ", s.where(f).c_str(),
                      f.state == State::AtBarrier ? "__syncthreads" : op_name(f.op), f.file, f.line);
    }
    return out;
}

// Runs one block to completion. Returns false on a fault.
bool run_block(int nthreads) {
    Scheduler& s = tls_sched;
    for (;;) {
        bool ran = false, all_done = true;
        for (int i = 0; i < nthreads; ++i) {
            Fiber& f = s.fibers[i];
            if (f.state == State::NotStarted || f.state == State::Ready) {
                run_fiber(f);
                ran = true;
                if (s.faulted) break;
            }
            if (f.state != State::Done) all_done = false;
        }
        if (s.faulted) break;
        if (all_done) return true;
        if (!ran) {
            s.faulted = true;
            s.fault_msg = "deadlock: no thread can run: " + describe_waits(s);
            break;
        }
    }
    // Abandon the suspended fibers: kernels hold no resources on their stacks.
    for (Fiber& f : s.fibers) s.give_stack(f);
    return false;
}

// The lanes' results for a complete warp collective; lanes are those in `mask` of the warp starting at `base`.
void complete_warp_op(Scheduler& s, int base, unsigned mask) {
    Fiber* lanes[32] = {};
    for (int j = 0; j < 32; ++j)
        if ((mask >> j) & 1u) lanes[j] = &s.fibers[base + j];
    const Fiber& first = *s.current;
    for (int j = 0; j < 32; ++j) {
        if (!lanes[j]) continue;
        const Fiber& o = *lanes[j];
        if (o.op != first.op || o.mask != first.mask)
            raise_fault(format("warp collective mismatch: lane %d is in %s (%s:%d) with mask 0x%08x, lane %d in %s "
                               "(%s:%d) with mask 0x%08x", first.ts.linear & 31, op_name(first.op), first.file,
                               first.line, first.mask, j, op_name(o.op), o.file, o.line, o.mask));
    }
    switch (first.op) {
        case WarpOp::Sync:
            break;
        case WarpOp::ShflIdx:
        case WarpOp::ShflXor:
        case WarpOp::ShflDown:
        case WarpOp::ShflUp:
            for (int l = 0; l < 32; ++l) {
                if (!lanes[l]) continue;
                const Fiber& me = *lanes[l];
                const int w = me.width;
                if (w < 1 || w > 32 || (w & (w - 1)) != 0)
                    raise_fault(format("%s (%s:%d): width %d is not a power of two in [1, 32]", op_name(me.op),
                                       me.file, me.line, w));
                const int seg = l & ~(w - 1);
                int src = l;
                switch (me.op) {
                    case WarpOp::ShflIdx: src = seg + (me.param & (w - 1)); break;
                    case WarpOp::ShflXor: src = l ^ me.param; src = src >= seg + w ? l : src; break;
                    case WarpOp::ShflDown: src = l + me.param; src = src >= seg + w ? l : src; break;
                    case WarpOp::ShflUp: src = l - me.param; src = src < seg ? l : src; break;
                    default: break;
                }
                if (src < 0 || src > 31 || !lanes[src])
                    raise_fault(format("lane %d reads lane %d in %s (%s:%d), outside the mask 0x%08x", l, src,
                                       op_name(me.op), me.file, me.line, mask));
                me.out[0] = lanes[src]->in[0];
            }
            break;
        case WarpOp::Ballot:
        case WarpOp::Any:
        case WarpOp::All: {
            unsigned ballot = 0;
            for (int j = 0; j < 32; ++j)
                if (lanes[j] && lanes[j]->in[0]) ballot |= 1u << j;
            const uint64_t r = first.op == WarpOp::Ballot ? ballot
                               : first.op == WarpOp::Any  ? (ballot != 0)
                                                          : (ballot == mask);
            for (int j = 0; j < 32; ++j)
                if (lanes[j]) lanes[j]->out[0] = r;
            break;
        }
        case WarpOp::MmaBf16:
        case WarpOp::MmaTf32: {
            // PTX ISA, mma.m16n8k16 (.bf16) and mma.m16n8k8 (.tf32), A row-major 16 x K, B column-major K x 8, C/D
            // 16 x 8 in f32. g = lane / 4, t = lane % 4. D: d0, d1 at row g, columns 2t, 2t+1; d2, d3 at row g+8.
            // bf16: a0 = A[g][2t, 2t+1], a1 = A[g+8][2t, 2t+1], a2 = A[g][2t+8, 2t+9], a3 = A[g+8][2t+8, 2t+9]
            //       (two bf16 per register, lower half first); b0 = B[2t, 2t+1][g], b1 = B[2t+8, 2t+9][g].
            // tf32: a0 = A[g][t], a1 = A[g+8][t], a2 = A[g][t+4], a3 = A[g+8][t+4]; b0 = B[t][g], b1 = B[t+4][g].
            if (mask != 0xffffffffu)
                raise_fault(format("%s (%s:%d) needs all 32 lanes, mask 0x%08x", op_name(first.op), first.file,
                                   first.line, mask));
            const bool bf16 = first.op == WarpOp::MmaBf16;
            const int K = bf16 ? 16 : 8;
            double A[16][16] = {}, B[16][8] = {};
            auto bf16_at = [](uint32_t reg, int half) {
                return (double)from_bits<float>((uint64_t)((reg >> (16 * half)) & 0xffffu) << 16);
            };
            auto tf32_at = [](uint32_t reg) { return (double)from_bits<float>(reg & 0xffffe000u); };
            for (int l = 0; l < 32; ++l) {
                const int g = l / 4, t = l % 4;
                uint32_t a[4], b[2];
                for (int i = 0; i < 4; ++i) a[i] = (uint32_t)(lanes[l]->in[i / 2] >> (32 * (i % 2)));
                for (int i = 0; i < 2; ++i) b[i] = (uint32_t)(lanes[l]->in[2] >> (32 * i));
                if (bf16) {
                    for (int h = 0; h < 2; ++h) {
                        A[g][2 * t + h] = bf16_at(a[0], h);
                        A[g + 8][2 * t + h] = bf16_at(a[1], h);
                        A[g][2 * t + 8 + h] = bf16_at(a[2], h);
                        A[g + 8][2 * t + 8 + h] = bf16_at(a[3], h);
                        B[2 * t + h][g] = bf16_at(b[0], h);
                        B[2 * t + 8 + h][g] = bf16_at(b[1], h);
                    }
                } else {
                    A[g][t] = tf32_at(a[0]);
                    A[g + 8][t] = tf32_at(a[1]);
                    A[g][t + 4] = tf32_at(a[2]);
                    A[g + 8][t + 4] = tf32_at(a[3]);
                    B[t][g] = tf32_at(b[0]);
                    B[t + 4][g] = tf32_at(b[1]);
                }
            }
            // Products of bf16/tf32 values are exact in double; the sum is rounded to f32 once (a GPU's internal
            // order and truncation differ in the last bits: compare against references with a tolerance).
            for (int l = 0; l < 32; ++l) {
                const int g = l / 4, t = l % 4;
                float out4[4];
                for (int i = 0; i < 4; ++i) {
                    const int row = g + 8 * (i / 2), col = 2 * t + (i % 2);
                    double acc = (double)from_bits<float>((uint32_t)(lanes[l]->in[3 + i / 2] >> (32 * (i % 2))));
                    for (int k = 0; k < K; ++k) acc += A[row][k] * B[k][col];
                    out4[i] = (float)acc;
                }
                lanes[l]->out[0] = to_bits(out4[0]) | (to_bits(out4[1]) << 32);
                lanes[l]->out[1] = to_bits(out4[2]) | (to_bits(out4[3]) << 32);
            }
            break;
        }
        case WarpOp::LdMatrix: {
            // PTX ISA, ldmatrix .m8n8 .b16: matrix i's row r comes from the address of lane 8i + r. Without .trans,
            // lane l receives row l/4, elements 2(l%4) and 2(l%4)+1 of each matrix; with .trans, elements (row
            // 2(l%4), column l/4) and (row 2(l%4)+1, column l/4).
            if (mask != 0xffffffffu)
                raise_fault(format("ldmatrix (%s:%d) needs all 32 lanes, mask 0x%08x", first.file, first.line, mask));
            const int count = first.param & 7;
            const bool trans = (first.param & 8) != 0;
            for (int j = 0; j < 32; ++j)
                if (lanes[j]->param != first.param)
                    raise_fault(format("ldmatrix (%s:%d): lanes disagree on .x%d/.trans", first.file, first.line,
                                       count));
            for (int l = 0; l < 32; ++l) {
                const int g = l / 4, t = l % 4;
                for (int i = 0; i < count; ++i) {
                    uint16_t lo, hi;
                    if (!trans) {
                        const char* row = reinterpret_cast<const char*>(lanes[8 * i + g]->in[0]);
                        std::memcpy(&lo, row + 4 * t, 2);
                        std::memcpy(&hi, row + 4 * t + 2, 2);
                    } else {
                        const char* r0 = reinterpret_cast<const char*>(lanes[8 * i + 2 * t]->in[0]);
                        const char* r1 = reinterpret_cast<const char*>(lanes[8 * i + 2 * t + 1]->in[0]);
                        std::memcpy(&lo, r0 + 2 * g, 2);
                        std::memcpy(&hi, r1 + 2 * g, 2);
                    }
                    lanes[l]->out[i] = (uint64_t)lo | ((uint64_t)hi << 16);
                }
            }
            break;
        }
        case WarpOp::MmaF64: {
            // PTX ISA, mma.m8n8k4 with .f64: A 8x4 row-major, lane l holds A[l/4][l%4]; B 4x8 column-major, lane l
            // holds B[l%4][l/4]; C and D 8x8, lane l holds row l/4, columns 2(l%4) and 2(l%4)+1.
            if (mask != 0xffffffffu)
                raise_fault(format("mma.sync (%s:%d) needs all 32 lanes, mask 0x%08x", first.file, first.line, mask));
            double a[8][4], b[4][8];
            for (int l = 0; l < 32; ++l) {
                a[l / 4][l % 4] = from_bits<double>(lanes[l]->in[0]);
                b[l % 4][l / 4] = from_bits<double>(lanes[l]->in[1]);
            }
            for (int l = 0; l < 32; ++l) {
                for (int i = 0; i < 2; ++i) {
                    const int row = l / 4, col = 2 * (l % 4) + i;
                    double d = from_bits<double>(lanes[l]->in[2 + i]);
                    for (int k = 0; k < 4; ++k) d = std::fma(a[row][k], b[k][col], d);
                    lanes[l]->out[i] = to_bits(d);
                }
            }
            break;
        }
    }
    for (int j = 0; j < 32; ++j)
        if (lanes[j] && lanes[j] != s.current) lanes[j]->state = State::Ready;
}

std::mutex g_mutex;  // allocations, device state, last error
std::map<uintptr_t, size_t> g_allocs;
std::map<const void*, int> g_max_dyn_smem;
thread_local cudaError_t tls_last_error = cudaSuccess;
int g_device = 0;

cudaError_t set_error(cudaError_t e) {
    if (e != cudaSuccess) tls_last_error = e;
    return e;
}

bool inside_allocation(const void* p, size_t bytes) {
    std::lock_guard<std::mutex> lock(g_mutex);
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    auto it = g_allocs.upper_bound(a);
    if (it == g_allocs.begin()) return false;
    --it;
    return a >= it->first && a + bytes <= it->first + it->second;
}

// Kernel coverage: the names of the kernels launched, written at exit to $QY_CUDA_EMU_COVERAGE (one per line)
// so that a test can check that every __global__ function in native/cuda ran.
struct Coverage {
    std::set<std::string> kernels;
    ~Coverage() {
        const char* path = std::getenv("QY_CUDA_EMU_COVERAGE");
        if (!path || !*path || kernels.empty()) return;
        std::error_code ec;
        std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
        std::ofstream out(path, std::ios::trunc);
        for (const std::string& k : kernels) out << k << '\n';
    }
    // "qy::cu::colsum_partial_kernel<Acc>" -> "colsum_partial_kernel"
    void add(const char* launch_text) {
        std::string name(launch_text);
        name = name.substr(0, name.find('<'));
        const size_t colon = name.rfind("::");
        if (colon != std::string::npos) name = name.substr(colon + 2);
        while (!name.empty() && name.back() == ' ') name.pop_back();
        std::lock_guard<std::mutex> lock(g_mutex);
        kernels.insert(name);
    }
};
Coverage g_coverage;

// QY_CUDA_EMU_BLOCKS="0,-1": run only these linear block indices of every launch (negative: from the end), for
// tests that address huge arrays and check only what those blocks write. Unset: every block.
struct BlockSubset {
    std::vector<int64_t> picks;
    bool runs(uint64_t block, uint64_t nblocks) const {
        if (picks.empty()) return true;
        for (int64_t p : picks)
            if ((p >= 0 ? (uint64_t)p : nblocks + (uint64_t)p) == block) return true;
        return false;
    }
};
BlockSubset block_subset() {
    BlockSubset s;
    const char* v = std::getenv("QY_CUDA_EMU_BLOCKS");
    for (const char* c = v; c && *c;) {
        char* end = nullptr;
        s.picks.push_back(std::strtoll(c, &end, 10));
        c = (*end == ',') ? end + 1 : end;
        if (end == c && *c) break;
    }
    return s;
}

int env_int(const char* name, int fallback) {
    const char* v = std::getenv(name);
    if (!v || !*v) return fallback;
    return std::atoi(v);
}

}  // namespace

void sync_block(const char* file, int line) {
    Scheduler& s = tls_sched;
    Fiber& f = *s.current;
    f.file = file;
    f.line = line;
    f.state = State::AtBarrier;
    if (++s.at_barrier < (int)s.fibers.size()) {
        yield_to_scheduler();
        return;
    }
    for (Fiber& o : s.fibers)
        if (o.file != file || o.line != line)
            raise_fault(format("threads of one block wait at different barriers: %s at __syncthreads (%s:%d), %s at "
                               "__syncthreads (%s:%d)", s.where(f).c_str(), file, line, s.where(o).c_str(), o.file,
                               o.line));
    s.at_barrier = 0;
    for (Fiber& o : s.fibers) o.state = State::Ready;
    f.state = State::Running;
}

void warp_collective(WarpOp op, unsigned mask, const uint64_t* in, int words, int param, int width, uint64_t* out,
                     const char* file, int line) {
    Scheduler& s = tls_sched;
    Fiber& f = *s.current;
    const int lane = f.ts.linear & 31, base = f.ts.linear - lane, n = (int)s.fibers.size();
    if (!((mask >> lane) & 1u))
        raise_fault(format("lane %d calls %s (%s:%d) with mask 0x%08x, which omits the calling lane", lane,
                           op_name(op), file, line, mask));
    for (int j = 0; j < 32; ++j) {
        if (!((mask >> j) & 1u)) continue;
        if (base + j >= n)
            raise_fault(format("%s (%s:%d): mask 0x%08x names lane %d, which does not exist in a block of %d "
                               "threads", op_name(op), file, line, mask, j, n));
        if (s.fibers[base + j].state == State::Done)
            raise_fault(format("%s (%s:%d): mask 0x%08x names lane %d, which has exited", op_name(op), file, line,
                               mask, j));
    }
    f.op = op;
    f.mask = mask;
    f.param = param;
    f.width = width;
    f.words = words;
    for (int i = 0; i < words; ++i) f.in[i] = in[i];
    f.out = out;
    f.file = file;
    f.line = line;
    f.state = State::AtWarp;
    for (int j = 0; j < 32; ++j)
        if (((mask >> j) & 1u) && s.fibers[base + j].state != State::AtWarp) {
            yield_to_scheduler();
            return;
        }
    complete_warp_op(s, base, mask);
    f.state = State::Running;
}

void mma_m8n8k4_f64(double& d0, double& d1, double a, double b, const char* file, int line) {
    const uint64_t in[4] = {to_bits(a), to_bits(b), to_bits(d0), to_bits(d1)};
    uint64_t out[2];
    warp_collective(WarpOp::MmaF64, 0xffffffffu, in, 4, 0, 32, out, file, line);
    d0 = from_bits<double>(out[0]);
    d1 = from_bits<double>(out[1]);
}

namespace {
// The bf16 and tf32 mma share their fragment shapes: 4 A registers, 2 B registers, 4 f32 accumulators per lane.
void mma_m16n8_f32(WarpOp op, float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], const char* file,
                   int line) {
    const uint64_t in[5] = {a[0] | ((uint64_t)a[1] << 32), a[2] | ((uint64_t)a[3] << 32), b[0] | ((uint64_t)b[1] << 32),
                            to_bits(d[0]) | (to_bits(d[1]) << 32), to_bits(d[2]) | (to_bits(d[3]) << 32)};
    uint64_t out[2];
    warp_collective(op, 0xffffffffu, in, 5, 0, 32, out, file, line);
    for (int i = 0; i < 4; ++i) d[i] = from_bits<float>((uint32_t)(out[i / 2] >> (32 * (i % 2))));
}
}  // namespace

void mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], const char* file, int line) {
    mma_m16n8_f32(WarpOp::MmaBf16, d, a, b, file, line);
}

void mma_m16n8k8_tf32(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], const char* file, int line) {
    mma_m16n8_f32(WarpOp::MmaTf32, d, a, b, file, line);
}

void ldmatrix(uint32_t* r, int count, bool trans, const void* row_address, const char* file, int line) {
    if (count != 1 && count != 2 && count != 4) fault(file, line, "ldmatrix: .x%d is not .x1, .x2 or .x4", count);
    const uint64_t in = reinterpret_cast<uint64_t>(row_address);
    uint64_t out[4];
    warp_collective(WarpOp::LdMatrix, 0xffffffffu, &in, 1, count | (trans ? 8 : 0), 32, out, file, line);
    for (int i = 0; i < count; ++i) r[i] = (uint32_t)out[i];
}

void cp_async(void* smem, const void* gmem, int bytes, int src_bytes, const char* file, int line) {
    if (bytes != 4 && bytes != 8 && bytes != 16) fault(file, line, "cp.async of %d bytes (4, 8 or 16 allowed)", bytes);
    if (src_bytes < 0 || src_bytes > bytes) fault(file, line, "cp.async src-size %d outside [0, %d]", src_bytes, bytes);
    if (reinterpret_cast<uintptr_t>(smem) % bytes || (src_bytes > 0 && reinterpret_cast<uintptr_t>(gmem) % bytes))
        fault(file, line, "cp.async of %d bytes from %p to %p is not %d-byte aligned", bytes, gmem, smem, bytes);
    tls_sched.current->open_group.push_back({smem, gmem, bytes, src_bytes});
}

void cp_async_commit() {
    Fiber& f = *tls_sched.current;
    f.groups.push_back(std::move(f.open_group));
    f.open_group.clear();
}

void cp_async_wait(int pending_allowed) {
    Fiber& f = *tls_sched.current;
    while ((int)f.groups.size() > pending_allowed) {
        for (const Fiber::Copy& c : f.groups.front()) {
            std::memcpy(c.dst, c.src, (size_t)c.src_bytes);
            std::memset(static_cast<char*>(c.dst) + c.src_bytes, 0, (size_t)(c.bytes - c.src_bytes));
        }
        f.groups.erase(f.groups.begin());
    }
}

void fault(const char* file, int line, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::string msg = vformat(fmt, ap);
    va_end(ap);
    raise_fault(format("%s (%s:%d)", msg.c_str(), file, line));
    std::abort();  // not reached on a fiber
}

cudaError_t set_max_dynamic_smem(const void* key, int bytes) {
    if (bytes < 0 || (size_t)bytes > kSmemOptin) return set_error(cudaErrorInvalidValue);
    std::lock_guard<std::mutex> lock(g_mutex);
    g_max_dyn_smem[key] = bytes;
    return cudaSuccess;
}

namespace {

// Watchdog: a launch running longer than QY_CUDA_EMU_WATCHDOG seconds (default 600; 0 = never) is a kernel that does
// not terminate (a GPU would hang too): the process prints the kernel and block and exits with status 124.
struct Watchdog {
    std::mutex m;
    std::chrono::steady_clock::time_point start;
    const char* kernel = nullptr;
    uint3 block{};
    bool running = false;

    void begin(const char* k) {
        static const double limit = [] {
            const char* v = std::getenv("QY_CUDA_EMU_WATCHDOG");
            return v && *v ? std::atof(v) : 600.0;
        }();
        if (limit <= 0) return;
        std::lock_guard<std::mutex> lock(m);
        start = std::chrono::steady_clock::now();
        kernel = k;
        running = true;
        static std::once_flag once;
        std::call_once(once, [this] { std::thread([this] { watch(limit); }).detach(); });
    }
    void end() {
        std::lock_guard<std::mutex> lock(m);
        running = false;
    }
    void watch(double limit) {
        for (;;) {
            std::this_thread::sleep_for(std::chrono::milliseconds(250));
            std::lock_guard<std::mutex> lock(m);
            if (running && std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > limit) {
                std::fprintf(stderr, "cuda_emu: %s ran longer than %.0f s (QY_CUDA_EMU_WATCHDOG): a kernel that does "
                             "not terminate; exiting\n", kernel, limit);
                std::fflush(stderr);
                std::_Exit(124);
            }
        }
    }
};
Watchdog g_watchdog;

}  // namespace

cudaError_t run_grid(const char* kernel, dim3 grid, dim3 block, size_t smem, ThreadBody body, void* launch) {
    const uint64_t threads = (uint64_t)block.x * block.y * block.z;
    if (threads == 0 || threads > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
        grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535 || smem > kSmemOptin) {
        std::fprintf(stderr, "cuda_emu: %s: invalid launch: grid (%u,%u,%u), block (%u,%u,%u), %zu bytes of dynamic "
                     "shared memory\n", kernel, grid.x, grid.y, grid.z, block.x, block.y, block.z, smem);
        return set_error(cudaErrorInvalidConfiguration);
    }
    g_coverage.add(kernel);
    Scheduler& s = tls_sched;
    if (s.current != nullptr) {
        std::fprintf(stderr, "cuda_emu: %s launched from inside a kernel (dynamic parallelism is not emulated)\n",
                     kernel);
        return set_error(cudaErrorLaunchFailure);
    }
    s.body = body;
    s.launch = launch;
    s.faulted = false;
    s.fault_msg.clear();
    s.fibers.assign(threads, Fiber{});
    for (uint64_t t = 0; t < threads; ++t) {
        ThreadState& ts = s.fibers[t].ts;
        ts.thread_idx = {(unsigned)(t % block.x), (unsigned)(t / block.x % block.y),
                         (unsigned)(t / ((uint64_t)block.x * block.y))};
        ts.linear = (int)t;
    }
    s.dyn_smem.resize(smem);
    tls_block.block_dim = block;
    tls_block.grid_dim = grid;
    tls_block.dyn_smem = smem ? s.dyn_smem.data() : nullptr;
    g_watchdog.begin(kernel);
    struct EndWatch {
        ~EndWatch() { g_watchdog.end(); }
    } end_watch;
    const BlockSubset subset = block_subset();
    const uint64_t nblocks = (uint64_t)grid.x * grid.y * grid.z;
    for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
            for (unsigned bx = 0; bx < grid.x; ++bx) {
                if (!subset.runs(bx + (uint64_t)grid.x * (by + (uint64_t)grid.y * bz), nblocks)) continue;
                tls_block.block_idx = {bx, by, bz};
                for (Fiber& f : s.fibers) {
                    f.state = State::NotStarted;
                    f.file = nullptr;
                    f.line = 0;
                    f.groups.clear();
                    f.open_group.clear();
                }
                s.at_barrier = 0;
                if (smem) std::memset(s.dyn_smem.data(), 0xff, smem);  // NaN as floats and doubles
                if (!run_block((int)threads)) {
                    std::fprintf(stderr, "cuda_emu: %s, block (%u,%u,%u) of grid (%u,%u,%u), block (%u,%u,%u): %s\n",
                                 kernel, bx, by, bz, grid.x, grid.y, grid.z, block.x, block.y, block.z,
                                 s.fault_msg.c_str());
                    s.fibers.clear();
                    return set_error(cudaErrorLaunchFailure);
                }
            }
    s.fibers.clear();
    return cudaSuccess;
}

}  // namespace qy_emu

// ---- runtime API ----------------------------------------------------------------------------------------------------
using namespace qy_emu;

cudaError_t cudaGetDeviceCount(int* count) {
    *count = env_int("QY_CUDA_EMU_DEVICES", 1);
    if (*count <= 0) {
        *count = 0;
        return set_error(cudaErrorNoDevice);
    }
    return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
    *device = g_device;
    return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || device < 0 || device >= n) return set_error(cudaErrorInvalidValue);
    g_device = device;
    return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || device < 0 || device >= n) return set_error(cudaErrorInvalidValue);
    std::memset(prop, 0, sizeof *prop);
    std::snprintf(prop->name, sizeof prop->name, "Quarry CUDA emulator (sm_90 semantics, %d SMs)",
                  env_int("QY_CUDA_EMU_SMS", 132));
    prop->totalGlobalMem = (size_t)16 << 30;
    prop->sharedMemPerBlock = kSmemDefault;
    prop->sharedMemPerBlockOptin = kSmemOptin;
    prop->major = 9;
    prop->minor = 0;
    prop->multiProcessorCount = env_int("QY_CUDA_EMU_SMS", 132);
    prop->maxThreadsPerBlock = 1024;
    prop->warpSize = 32;
    return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
    cudaDeviceProp p;
    if (cudaError_t e = cudaGetDeviceProperties(&p, device)) return e;
    switch (attr) {
        case cudaDevAttrMultiProcessorCount: *value = p.multiProcessorCount; return cudaSuccess;
        case cudaDevAttrMaxSharedMemoryPerBlock: *value = (int)p.sharedMemPerBlock; return cudaSuccess;
        case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = (int)p.sharedMemPerBlockOptin; return cudaSuccess;
    }
    return set_error(cudaErrorInvalidValue);
}
cudaError_t cudaDriverGetVersion(int* version) {
    *version = 13000;
    return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int* version) {
    *version = 13000;
    return cudaSuccess;
}
cudaError_t cudaGetLastError() {
    cudaError_t e = tls_last_error;
    tls_last_error = cudaSuccess;
    return e;
}
cudaError_t cudaPeekAtLastError() { return tls_last_error; }
const char* cudaGetErrorName(cudaError_t err) {
    switch (err) {
        case cudaSuccess: return "cudaSuccess";
        case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
        case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
        case cudaErrorInsufficientDriver: return "cudaErrorInsufficientDriver";
        case cudaErrorNoDevice: return "cudaErrorNoDevice";
        case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
        case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
        case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
        case cudaErrorNotSupported: return "cudaErrorNotSupported";
    }
    return "cudaErrorUnknown";
}
const char* cudaGetErrorString(cudaError_t err) {
    switch (err) {
        case cudaSuccess: return "no error";
        case cudaErrorInvalidValue: return "invalid argument";
        case cudaErrorMemoryAllocation: return "out of memory";
        case cudaErrorInsufficientDriver: return "CUDA driver version is insufficient for CUDA runtime version";
        case cudaErrorNoDevice: return "no CUDA-capable device is detected";
        case cudaErrorInvalidDevicePointer: return "invalid device pointer";
        case cudaErrorInvalidConfiguration: return "invalid configuration argument";
        case cudaErrorLaunchFailure: return "unspecified launch failure (emulator: see the message above)";
        case cudaErrorNotSupported: return "operation not supported";
    }
    return "unknown error";
}
// Allocations of at least this size are mapped lazily (untouched pages cost nothing), so a test can address more
// than 2^31 elements while a block subset (QY_CUDA_EMU_BLOCKS) touches only a few pages of them.
constexpr size_t kSparseBytes = (size_t)1 << 30;

cudaError_t cudaMalloc(void** ptr, size_t bytes) {
    *ptr = nullptr;
    void* p = nullptr;
    if (bytes >= kSparseBytes) {
        p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) return set_error(cudaErrorMemoryAllocation);
    } else {
        // 256-byte alignment, as cudaMalloc guarantees, and at least 256 bytes past the end filled with 0xff (NaN as
        // floats and doubles): a kernel that reads past its array gets NaN, which every parity check reports.
        const size_t padded = (bytes + 255) / 256 * 256 + 256;
        p = std::aligned_alloc(256, padded);
        if (!p) return set_error(cudaErrorMemoryAllocation);
        std::memset(static_cast<char*>(p) + bytes, 0xff, padded - bytes);
    }
    std::lock_guard<std::mutex> lock(g_mutex);
    g_allocs[reinterpret_cast<uintptr_t>(p)] = bytes;
    *ptr = p;
    return cudaSuccess;
}
cudaError_t cudaFree(void* ptr) {
    if (!ptr) return cudaSuccess;
    size_t bytes = 0;
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        auto it = g_allocs.find(reinterpret_cast<uintptr_t>(ptr));
        if (it == g_allocs.end()) {
            std::fprintf(stderr, "cuda_emu: cudaFree of %p, which is not a live allocation\n", ptr);
            return set_error(cudaErrorInvalidDevicePointer);
        }
        bytes = it->second;
        g_allocs.erase(it);
    }
    if (bytes >= kSparseBytes)
        munmap(ptr, bytes);
    else
        std::free(ptr);
    return cudaSuccess;
}
cudaError_t cudaMallocAsync(void** ptr, size_t bytes, cudaStream_t) { return cudaMalloc(ptr, bytes); }
cudaError_t cudaFreeAsync(void* ptr, cudaStream_t) { return cudaFree(ptr); }
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
    const bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    const bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    if ((dst_dev && !inside_allocation(dst, bytes)) || (src_dev && !inside_allocation(src, bytes))) {
        std::fprintf(stderr, "cuda_emu: cudaMemcpy of %zu bytes from %p to %p leaves device memory\n", bytes, src, dst);
        return set_error(cudaErrorInvalidValue);
    }
    if (bytes) std::memmove(dst, src, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
    return cudaMemcpy(dst, src, bytes, kind);
}
cudaError_t cudaMemset(void* dst, int value, size_t bytes) {
    if (!inside_allocation(dst, bytes)) return set_error(cudaErrorInvalidValue);
    std::memset(dst, value, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t) { return cudaMemset(dst, value, bytes); }
// Work runs at launch, so a stream is only a distinct handle.
cudaError_t cudaStreamCreate(cudaStream_t* stream) {
    *stream = reinterpret_cast<cudaStream_t>(new char(0));
    return cudaSuccess;
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned) { return cudaStreamCreate(stream); }
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
    delete reinterpret_cast<char*>(stream);
    return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
