// Quarry kernel benchmarks: the ops that dominate training (ResNet-18 CIFAR and the BatchBALD MNIST ConvNet),
// BatchBALD acquisition at the paper's pool size, and the contrastive losses at SimCLR / MoCo sizes (NT-Xent over
// 4096 pairs, InfoNCE against a 65,536-key queue), timed through the C API on one backend.
//
//   cmake -S native -B build -DCMAKE_BUILD_TYPE=Release -DQUARRY_OPENBLAS=OFF && cmake --build build --target bench_ops
//   build/bench_ops [--device cpu|cuda] [--json OUT.json] [--quick]
//
// Prints one row per workload (median ms, min, max, GFLOP/s and GB/s at the median) and, with --json, writes the same
// rows. benchmarks/peers/torch_ops.py times the same workloads, under the same names, in PyTorch and
// benchmarks/gpu/compare.py puts the two side by side. --quick shrinks every size so that a 2-core CPU finishes in
// seconds (a smoke test of this program, not a measurement). Exits 1 if any workload failed or gave a non-finite
// output, 2 on a usage error or when the device is unusable.
//
// Method: inputs are random (seeded Philox fills; log-probabilities are real log-softmax outputs), never zeros. Each
// workload runs twice as warm-up; the second call sizes the loop. A sample is `inner` back-to-back calls between two
// qy_stream_sync calls timed with std::chrono (the C API has no events), divided by `inner`; `inner` > 1 only for
// calls under 1 ms, so the sync's latency is amortised. 5 to 20 samples (3 to 5 with --quick) fill a budget of
// about 1 s per workload; the median is reported. FLOPs count a multiply-add as 2 and a transcendental (exp, log)
// as 1; "bytes" is the fewest the op must move (each input read once, each output written once), so GB/s is a
// lower bound on the traffic and the larger of flops/peak and bytes/bandwidth is the floor.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "quarry.h"

namespace {

// ---- harness ---------------------------------------------------------------------------------------------------

std::string fmt(const char* f, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, f);
    std::vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    return buf;
}

void ck(int rc, const char* what) {
    if (rc != QY_OK) throw std::runtime_error(fmt("%s returned %d: %s", what, rc, qy_last_error()));
}

struct Ctx {
    int dev = QY_DEV_CPU;
    bool quick = false;
    uint64_t next_seed = 0x5eed0000;
    std::string json_path, device_name;
    double start_ms = 0;
};
Ctx g;

// Device memory owned for the scope of one workload family.
class Buf {
public:
    explicit Buf(int64_t bytes) : bytes_(bytes) { ck(qy_malloc(g.dev, bytes, &p_), "qy_malloc"); }
    ~Buf() {
        if (p_) qy_free(g.dev, p_);
    }
    Buf(const Buf&) = delete;
    Buf& operator=(const Buf&) = delete;
    float* f() const { return static_cast<float*>(p_); }
    double* d() const { return static_cast<double*>(p_); }
    int32_t* i() const { return static_cast<int32_t*>(p_); }
    int64_t bytes() const { return bytes_; }

private:
    void* p_ = nullptr;
    int64_t bytes_;
};

void sync() { ck(qy_stream_sync(g.dev, nullptr), "qy_stream_sync"); }

// n floats ~ N(0, std^2) on the device, a fresh seed per call.
void randn(const Buf& b, int64_t n, float std = 1.0f) {
    ck(qy_fill_normal(g.dev, nullptr, b.f(), n, g.next_seed++, 0, 0.0f, std), "qy_fill_normal");
}

void upload(const Buf& b, const void* host, int64_t bytes) {
    ck(qy_upload(g.dev, nullptr, b.f(), host, bytes), "qy_upload");
}

template <class T>
std::vector<T> download(const void* dev_ptr, int64_t n) {
    std::vector<T> v((size_t)n);
    ck(qy_download(g.dev, nullptr, v.data(), dev_ptr, n * (int64_t)sizeof(T)), "qy_download");
    return v;
}

// "" when all n values (float or double) are finite, else a one-line complaint.
template <class T>
std::string finite(const char* what, const void* dev_ptr, int64_t n) {
    std::vector<T> v = download<T>(dev_ptr, n);
    int64_t bad = 0;
    for (T x : v) bad += !std::isfinite(x);
    return bad ? fmt("%s: %lld of %lld values not finite", what, (long long)bad, (long long)n) : "";
}

struct Result {
    std::string name, group;
    double flops = 0, bytes = 0;
    double ms = NAN, ms_min = NAN, ms_max = NAN;
    int reps = 0, inner = 0;
    bool ok = false, derived = false;
    std::string error;
};
std::vector<Result> g_results;

double now_ms() {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void print_row(const Result& r) {
    if (!r.ok) {
        std::printf("%-58s FAILED: %s\n", r.name.c_str(), r.error.c_str());
    } else {
        const std::string reps = r.derived ? "sum" : fmt("%dx%d", r.reps, r.inner);
        std::printf("%-58s %10.4f %10.4f %10.4f %8s %9.1f %8.1f\n", r.name.c_str(), r.ms, r.ms_min, r.ms_max,
                    reps.c_str(), r.flops / r.ms * 1e-6, r.bytes / r.ms * 1e-6);
    }
    std::fflush(stdout);
}

// JSON of the results (numbers as %.9g, non-finite as null).

std::string json_str(const std::string& s) {
    std::string o = "\"";
    for (char ch : s) {
        if (ch == '"' || ch == '\\') {
            o += '\\';
            o += ch;
        } else if ((unsigned char)ch < 0x20) {
            o += fmt("\\u%04x", ch);
        } else {
            o += ch;
        }
    }
    return o + "\"";
}

std::string json_num(double v) { return std::isfinite(v) ? fmt("%.9g", v) : "null"; }

// Rewrites the JSON with every result so far (after each workload, so a run cut short leaves what it measured),
// through a temporary file renamed over it, so that a kill mid-write leaves the previous complete file.
bool write_json() {
    const double wall_s = (now_ms() - g.start_ms) / 1000.0;
    const std::string tmp = g.json_path + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "w");
    if (!f) return false;
    std::fprintf(f, "{\n  \"tool\": \"quarry bench_ops\",\n  \"quarry_version\": %s,\n  \"device\": %s,\n",
                 json_str(qy_version()).c_str(), json_str(g.dev == QY_DEV_CUDA ? "cuda" : "cpu").c_str());
    std::fprintf(f, "  \"device_name\": %s,\n  \"quick\": %s,\n  \"wall_s\": %.1f,\n  \"results\": [\n",
                 json_str(g.device_name).c_str(), g.quick ? "true" : "false", wall_s);
    for (size_t i = 0; i < g_results.size(); ++i) {
        const Result& r = g_results[i];
        const bool t = r.ok && std::isfinite(r.ms) && r.ms > 0;
        std::fprintf(f,
                     "    {\"name\": %s, \"group\": %s, \"ok\": %s, \"derived\": %s, \"ms\": %s, \"ms_min\": %s, "
                     "\"ms_max\": %s, \"reps\": %d, \"inner\": %d, \"flops\": %s, \"bytes\": %s, \"gflops\": %s, "
                     "\"gbs\": %s, \"error\": %s}%s\n",
                     json_str(r.name).c_str(), json_str(r.group).c_str(), r.ok ? "true" : "false",
                     r.derived ? "true" : "false", json_num(r.ms).c_str(), json_num(r.ms_min).c_str(),
                     json_num(r.ms_max).c_str(), r.reps, r.inner, json_num(r.flops).c_str(), json_num(r.bytes).c_str(),
                     json_num(t ? r.flops / r.ms * 1e-6 : NAN).c_str(),
                     json_num(t ? r.bytes / r.ms * 1e-6 : NAN).c_str(),
                     json_str(r.error).c_str(), i + 1 < g_results.size() ? "," : "");
    }
    std::fprintf(f, "  ]\n}\n");
    return std::fclose(f) == 0 && std::rename(tmp.c_str(), g.json_path.c_str()) == 0;
}

void add_result(const Result& r) {
    print_row(r);
    g_results.push_back(r);
    if (!g.json_path.empty() && !write_json()) {
        std::fprintf(stderr, "bench_ops: cannot write %s\n", g.json_path.c_str());
        std::exit(1);
    }
}

// Times op (which throws on a failed call), then runs check (an output sanity check returning "" when fine).
// Returns the result, also appended to g_results; a failure is recorded, not thrown.
Result bench(const std::string& name, const std::string& group, double flops, double bytes,
             const std::function<void()>& op, const std::function<std::string()>& check = {}) {
    Result r;
    r.name = name;
    r.group = group;
    r.flops = flops;
    r.bytes = bytes;
    try {
        sync();
        op();
        sync();
        double t0 = now_ms();
        op();
        sync();
        const double est = std::max(now_ms() - t0, 1e-4);
        const double budget_ms = g.quick ? 100.0 : 1000.0;
        r.inner = est < 1.0 ? (int)std::min(1000.0, std::ceil(1.0 / est)) : 1;
        const int lo = g.quick ? 3 : 5, hi = g.quick ? 5 : 20;
        r.reps = std::max(lo, std::min(hi, (int)(budget_ms / (est * r.inner))));
        std::vector<double> samples;
        for (int s = 0; s < r.reps; ++s) {
            t0 = now_ms();
            for (int i = 0; i < r.inner; ++i) op();
            sync();
            samples.push_back((now_ms() - t0) / r.inner);
        }
        std::sort(samples.begin(), samples.end());
        const size_t h = samples.size() / 2;
        r.ms = samples.size() % 2 ? samples[h] : 0.5 * (samples[h - 1] + samples[h]);
        r.ms_min = samples.front();
        r.ms_max = samples.back();
        r.error = check ? check() : "";
        r.ok = r.error.empty();
    } catch (const std::exception& e) {
        r.error = e.what();
        r.ok = false;
    }
    add_result(r);
    return r;
}

void record_failure(const std::string& family, const std::string& error) {
    Result r;
    r.name = family;
    r.group = family;
    r.error = error;
    add_result(r);
}

// ---- conv2d ------------------------------------------------------------------------------------------------------
// Per pass (fwd, bwd_data, bwd_filter alike): FLOPs = 2 * n*ho*wo * cout * kh*kw*cin (+ n*ho*wo*cout for a bias or
// its gradient). Bytes: fwd reads x and w and writes y; bwd_data reads dy and w and writes dx; bwd_filter reads x and
// dy and writes dw (float32; + cout for the bias). All 3x3 ResNet convs are compute-bound (~60 flop per byte).

struct ConvShape {
    int n, h, cin, cout, k, s, p;
    bool bias;
    int ho() const { return (h + 2 * p - k) / s + 1; }
    std::string tag() const { return fmt("n%d_%dx%dx%d_k%ds%dp%d_co%d", n, h, h, cin, k, s, p, cout); }
};

std::vector<ConvShape> conv_shapes() {
    const int r = g.quick ? 2 : 128, m = g.quick ? 4 : 64;
    return {
        {r, 32, 64, 64, 3, 1, 1, false},   // ResNet-18 CIFAR layer1
        {r, 16, 128, 128, 3, 1, 1, false}, // layer2
        {r, 8, 256, 256, 3, 1, 1, false},  // layer3
        {r, 4, 512, 512, 3, 1, 1, false},  // layer4
        {r, 32, 64, 128, 3, 2, 1, false},  // layer2's first conv (stride 2)
        {m, 28, 1, 32, 5, 1, 0, true},     // BatchBALD MNIST ConvNet conv1
        {m, 12, 32, 64, 5, 1, 0, true},    // conv2 (after 2x2 max-pool)
    };
}

void bench_conv(const ConvShape& s) {
    const int ho = s.ho();
    const int64_t nx = (int64_t)s.n * s.h * s.h * s.cin, nw = (int64_t)s.cout * s.k * s.k * s.cin,
                  ny = (int64_t)s.n * ho * ho * s.cout;
    Buf x(nx * 4), w(nw * 4), b(s.cout * 4), y(ny * 4), dy(ny * 4), dx(nx * 4), dw(nw * 4), db(s.cout * 4);
    randn(x, nx);
    randn(w, nw, 1.0f / std::sqrt((float)(s.k * s.k * s.cin)));
    randn(b, s.cout);
    randn(dy, ny);
    const double mac = 2.0 * ny * s.k * s.k * s.cin, bias_flops = s.bias ? (double)ny : 0.0;
    const double bias_bytes = s.bias ? 4.0 * s.cout : 0.0;
    const float* bias = s.bias ? b.f() : nullptr;
    float* dbias = s.bias ? db.f() : nullptr;
    const std::string tag = s.tag();
    bench("conv2d_fwd " + tag, "conv", mac + bias_flops, 4.0 * (nx + nw + ny) + bias_bytes,
          [&] {
              ck(qy_conv2d_fwd(g.dev, nullptr, x.f(), w.f(), bias, y.f(), s.n, s.h, s.h, s.cin, s.cout, s.k, s.k, s.s,
                               s.s, s.p, s.p),
                 "qy_conv2d_fwd");
          },
          [&] { return finite<float>("y", y.f(), ny); });
    bench("conv2d_bwd_data " + tag, "conv", mac, 4.0 * (ny + nw + nx),
          [&] {
              ck(qy_conv2d_bwd_data(g.dev, nullptr, dy.f(), w.f(), dx.f(), s.n, s.h, s.h, s.cin, s.cout, s.k, s.k, s.s,
                                    s.s, s.p, s.p),
                 "qy_conv2d_bwd_data");
          },
          [&] { return finite<float>("dx", dx.f(), nx); });
    bench("conv2d_bwd_filter " + tag, "conv", mac + bias_flops, 4.0 * (nx + ny + nw) + bias_bytes,
          [&] {
              ck(qy_conv2d_bwd_filter(g.dev, nullptr, x.f(), dy.f(), dw.f(), dbias, s.n, s.h, s.h, s.cin, s.cout, s.k,
                                      s.k, s.s, s.s, s.p, s.p),
                 "qy_conv2d_bwd_filter");
          },
          [&] { return finite<float>("dw", dw.f(), nw); });
}

// ---- batch norm over [m][c] = NHWC activations of ResNet-18 layer1 (128 x 32 x 32 x 64) ----------------------------
// fwd train: ~6 flop per element (sum, centred square sum, one scale-shift); reads x, writes y: 8 bytes per element.
// bwd: ~10 flop per element (sum dy, sum dy*xhat, dx); reads x and dy, writes dx: 12 bytes per element.
void bench_batchnorm() {
    const int64_t m = (g.quick ? 2 : 128) * 32 * 32;
    const int c = 64;
    const int64_t e = m * c;
    Buf x(e * 4), y(e * 4), dy(e * 4), dx(e * 4), gamma(c * 4), beta(c * 4), mean(c * 4), invstd(c * 4),
        rmean(c * 4), rvar(c * 4), dgamma(c * 4), dbeta(c * 4);
    randn(x, e, 2.0f);
    randn(dy, e);
    ck(qy_fill_uniform(g.dev, nullptr, gamma.f(), c, g.next_seed++, 0, 0.5f, 1.5f), "qy_fill_uniform");
    randn(beta, c);
    ck(qy_fill(g.dev, nullptr, rmean.f(), c, 0.0f), "qy_fill");
    ck(qy_fill(g.dev, nullptr, rvar.f(), c, 1.0f), "qy_fill");
    const std::string tag = fmt("m%lld_c%d", (long long)m, c);
    bench("batchnorm_fwd_train " + tag, "batchnorm", 6.0 * e, 8.0 * e,
          [&] {
              ck(qy_batchnorm_fwd_train(g.dev, nullptr, x.f(), gamma.f(), beta.f(), y.f(), mean.f(), invstd.f(),
                                        rmean.f(), rvar.f(), m, c, 0.1f, 1e-5f),
                 "qy_batchnorm_fwd_train");
          },
          [&] { return finite<float>("y", y.f(), e); });
    bench("batchnorm_bwd " + tag, "batchnorm", 10.0 * e, 12.0 * e,
          [&] {
              ck(qy_batchnorm_bwd(g.dev, nullptr, x.f(), dy.f(), gamma.f(), mean.f(), invstd.f(), dx.f(), dgamma.f(),
                                  dbeta.f(), m, c),
                 "qy_batchnorm_bwd");
          },
          [&] { return finite<float>("dx", dx.f(), e); });
}

// ---- linear 1024 -> 128 at batch 64 (the MNIST ConvNet's fc1) -----------------------------------------------------
// Each pass 2*n*in*out flops (+ n*out for the bias / its gradient); bytes: the two inputs read, the output written.
void bench_linear() {
    const int n = 64, in = 1024, out = 128;
    const int64_t nx = (int64_t)n * in, nw = (int64_t)out * in, ny = (int64_t)n * out;
    Buf x(nx * 4), w(nw * 4), b(out * 4), y(ny * 4), dy(ny * 4), dx(nx * 4), dw(nw * 4), db(out * 4);
    randn(x, nx);
    randn(w, nw, 1.0f / 32.0f);
    randn(b, out);
    randn(dy, ny);
    const double mac = 2.0 * n * in * out;
    const std::string tag = fmt("n%d_in%d_out%d", n, in, out);
    bench("linear_fwd " + tag, "linear", mac + ny, 4.0 * (nx + nw + out + ny),
          [&] { ck(qy_linear_fwd(g.dev, nullptr, x.f(), w.f(), b.f(), y.f(), n, in, out), "qy_linear_fwd"); },
          [&] { return finite<float>("y", y.f(), ny); });
    bench("linear_bwd_data " + tag, "linear", mac, 4.0 * (ny + nw + nx),
          [&] { ck(qy_linear_bwd_data(g.dev, nullptr, dy.f(), w.f(), dx.f(), n, in, out), "qy_linear_bwd_data"); },
          [&] { return finite<float>("dx", dx.f(), nx); });
    bench("linear_bwd_weight " + tag, "linear", mac + ny, 4.0 * (nx + ny + nw + out),
          [&] {
              ck(qy_linear_bwd_weight(g.dev, nullptr, x.f(), dy.f(), dw.f(), db.f(), n, in, out),
                 "qy_linear_bwd_weight");
          },
          [&] { return finite<float>("dw", dw.f(), nw); });
}

// ---- log-softmax + NLL (mean, no smoothing) over [4096][10] ------------------------------------------------------
// fwd: log_softmax then nll: ~6 flop per element; reads the logits and the labels, writes logp (the loss is 4 bytes).
// bwd: nll_bwd (dlogp = -1/n at the label) then log_softmax_bwd: ~5 flop per element; reads logp and the labels,
// writes dx (dlogp is an intermediate a fused kernel would never store).
void bench_softmax_nll() {
    const int n = 4096, c = 10;
    const int64_t e = (int64_t)n * c;
    Buf x(e * 4), lp(e * 4), loss(4), dlp(e * 4), dx(e * 4), labels(n * 4);
    randn(x, e, 3.0f);
    std::mt19937 rng(7);
    std::vector<int32_t> lab((size_t)n);
    for (int32_t& l : lab) l = (int32_t)(rng() % c);
    upload(labels, lab.data(), n * 4);
    const std::string tag = fmt("n%d_c%d", n, c);
    bench("logsoftmax_nll_fwd " + tag, "softmax", 6.0 * e, 8.0 * e + 4.0 * n + 4,
          [&] {
              ck(qy_log_softmax_fwd(g.dev, nullptr, x.f(), lp.f(), n, c), "qy_log_softmax_fwd");
              ck(qy_nll_fwd(g.dev, nullptr, lp.f(), labels.i(), loss.f(), n, c, 0.0f), "qy_nll_fwd");
          },
          [&] { return finite<float>("loss", loss.f(), 1); });
    bench("logsoftmax_nll_bwd " + tag, "softmax", 5.0 * e, 8.0 * e + 4.0 * n,
          [&] {
              ck(qy_nll_bwd(g.dev, nullptr, labels.i(), dlp.f(), n, c, 0.0f, 1.0f / n), "qy_nll_bwd");
              ck(qy_log_softmax_bwd(g.dev, nullptr, lp.f(), dlp.f(), dx.f(), n, c), "qy_log_softmax_bwd");
          },
          [&] { return finite<float>("dx", dx.f(), e); });
}

// ---- acquisition: BALD and greedy BatchBALD (docs/acquisition.md) --------------------------------------------------
// Pool N points, K MC samples, C classes, batch b, M_max configurations. Greedy step 1 is BALD; step t >= 2 has
// a = t - 1 chosen points: exact while C^a <= M_max (P built by joint_extend, m = C^a rows), else importance-sampled
// (joint_sample with s = M_max / K draws per sample, m = K * s rows, weights w). Every step ends in one joint_entropy
// over all N candidates (timed over all N; the real loop skips the chosen ones, a negligible difference).
//   acq_score (BALD or conditional entropy, float32 input): ~5 flop per element (exp, x log x, two sums);
//       reads 4 N K C bytes, writes 8 N.
//   logp_to_probs: one exp per element; reads 4, writes 8 bytes per element.
//   joint_extend m -> m C: m C K multiplies; reads 8 (m K + K C), writes 8 m C K bytes.
//   joint_sample a, s (m = K s rows): ~m (a C + a K + K) flops (class search, products, q); writes 8 m (K + 1) bytes.
//   joint_entropy m: GEMM 2 m K N C flops + 3 m N C (log, multiply, weighted add); reads 8 (N K C + m K (+ m)),
//       writes 8 N. At the paper's size (m = 40,000) that is 4.7e12 flop against 0.5 GB: compute-bound in fp64.
struct AcqCfg {
    int64_t n;
    int k, c, b;
    int64_t m_max;
};

// The i-th chosen pool point: fixed, distinct for i < 10 at both sizes (torch_ops.py uses the same indices).
int64_t chosen_index(int i, int64_t n) { return ((int64_t)i * 7919 + 13) % n; }

void bench_acquisition() {
    const AcqCfg a = g.quick ? AcqCfg{500, 20, 10, 6, 2000} : AcqCfg{58956, 100, 10, 10, 40000};
    const int64_t nkc = a.n * a.k * a.c, kc = (int64_t)a.k * a.c;
    const std::string pool = fmt("n%lld_k%d_c%d", (long long)a.n, a.k, a.c);
    const char* group = "acquisition";
    Buf logp(nkc * 4), probs(nkc * 8), scores(a.n * 8), out(a.n * 8);
    {
        Buf logits(nkc * 4);
        randn(logits, nkc, 2.0f);
        ck(qy_log_softmax_fwd(g.dev, nullptr, logits.f(), logp.f(), (int)(a.n * a.k), a.c), "qy_log_softmax_fwd");
        sync();
    }

    std::vector<Result> steps;  // the pieces of the greedy loop, summed at the end
    auto score = [&](int kind) {
        return [&, kind] {
            ck(qy_acq_score(g.dev, nullptr, logp.f(), QY_F32, a.n, a.k, a.c, kind, scores.d()), "qy_acq_score");
        };
    };
    auto bald_in_range = [&]() -> std::string {
        const double log_c = std::log((double)a.c);
        for (double v : download<double>(scores.d(), a.n))
            if (!(v >= -1e-9 && v <= log_c + 1e-9)) return fmt("BALD score %g outside [0, log C]", v);
        return "";
    };
    const double score_flops = 5.0 * nkc, score_bytes = 4.0 * nkc + 8.0 * a.n;
    steps.push_back(bench(
        "logp_to_probs " + pool + "_f32", group, (double)nkc, 12.0 * nkc,
        [&] { ck(qy_logp_to_probs(g.dev, nullptr, logp.f(), QY_F32, nkc, probs.d()), "qy_logp_to_probs"); },
        [&] { return finite<double>("probs", probs.d(), std::min<int64_t>(nkc, 1 << 22)); }));
    steps.push_back(
        bench("acq_bald " + pool + "_f32", group, score_flops, score_bytes, score(QY_SCORE_BALD), bald_in_range));
    steps.push_back(bench("acq_cond_entropy " + pool + "_f32", group, score_flops, score_bytes,
                          score(QY_SCORE_COND_ENTROPY), [&] { return finite<double>("scores", scores.d(), a.n); }));

    // The chosen points' probabilities [b - 1][K][C]; the exact joint P of the first ones (m x K, from one row of
    // ones), or the sampled P and w.
    Buf chosen((int64_t)(a.b - 1) * kc * 8);
    for (int i = 0; i < a.b - 1; ++i)
        ck(qy_copy(g.dev, nullptr, chosen.d() + i * kc, probs.d() + chosen_index(i, a.n) * kc, kc * 8), "qy_copy");
    const int64_t s_draws = a.m_max / a.k, m_sampled = s_draws * a.k;
    Buf p_a(a.m_max * a.k * 8), p_b(a.m_max * a.k * 8), p_samp(m_sampled * a.k * 8), w_samp(m_sampled * 8);
    double* p_cur = p_a.d();
    double* p_new = p_b.d();
    const std::vector<double> ones((size_t)a.k, 1.0);
    ck(qy_upload(g.dev, nullptr, p_cur, ones.data(), a.k * 8), "qy_upload");

    auto entropy_check = [&] { return finite<double>("joint entropies", out.d(), a.n); };
    auto entropy_flops = [&](int64_t m) { return 2.0 * m * a.k * a.n * a.c + 3.0 * m * a.n * a.c; };
    int64_t m = 1;
    bool sampled = false;
    Result sampled_entropy;
    for (int step = 2; step <= a.b; ++step) {
        const int na = step - 1;  // chosen points so far
        if (!sampled && m * a.c <= a.m_max) {
            const int64_t m0 = m;
            const double* pa = chosen.d() + (int64_t)(na - 1) * kc;
            steps.push_back(bench(fmt("joint_extend m%lld_k%d_c%d", (long long)m0, a.k, a.c), group,
                                  (double)m0 * a.c * a.k, 8.0 * (m0 * a.k + kc + m0 * a.c * a.k), [&] {
                                      ck(qy_joint_extend(g.dev, nullptr, p_cur, m0, pa, a.k, a.c, p_new),
                                         "qy_joint_extend");
                                  }));
            m = m0 * a.c;
            std::swap(p_cur, p_new);
            steps.push_back(bench(fmt("joint_entropy m%lld_", (long long)m) + pool, group, entropy_flops(m),
                                  8.0 * (nkc + m * a.k + a.n),
                                  [&] {
                                      ck(qy_joint_entropy(g.dev, nullptr, p_cur, nullptr, m, probs.d(), a.n, a.k, a.c,
                                                          out.d()),
                                         "qy_joint_entropy");
                                  },
                                  entropy_check));
            continue;
        }
        const uint32_t step_id = (uint32_t)step;
        steps.push_back(bench(fmt("joint_sample a%d_s%lld_k%d_c%d", na, (long long)s_draws, a.k, a.c), group,
                              (double)m_sampled * (na * a.c + na * a.k + a.k), 8.0 * (na * kc + m_sampled * (a.k + 1)),
                              [&] {
                                  ck(qy_joint_sample(g.dev, nullptr, chosen.d(), na, a.k, a.c, s_draws, 1234, step_id,
                                                     p_samp.d(), w_samp.d()),
                                     "qy_joint_sample");
                              },
                              [&] { return finite<double>("w", w_samp.d(), m_sampled); }));
        // One weighted joint_entropy timing stands for every sampled step: its cost does not depend on a.
        if (!sampled)
            sampled_entropy = bench(fmt("joint_entropy_weighted m%lld_", (long long)m_sampled) + pool, group,
                                    entropy_flops(m_sampled), 8.0 * (nkc + m_sampled * (a.k + 1) + a.n),
                                    [&] {
                                        ck(qy_joint_entropy(g.dev, nullptr, p_samp.d(), w_samp.d(), m_sampled,
                                                            probs.d(), a.n, a.k, a.c, out.d()),
                                           "qy_joint_entropy");
                                    },
                                    entropy_check);
        sampled = true;
        steps.push_back(sampled_entropy);
    }

    // The whole greedy loop: the sum of its timed pieces (device time only; the host's argmax per step is not in it).
    Result total;
    total.name = fmt("batchbald_greedy_b%d ", a.b) + pool + fmt("_M%lld", (long long)a.m_max);
    total.group = group;
    total.derived = true;
    total.ok = true;
    total.ms = total.ms_min = total.ms_max = 0;
    for (const Result& r : steps) {
        total.flops += r.flops;
        total.bytes += r.bytes;
        total.ms += r.ms;
        total.ms_min += r.ms_min;
        total.ms_max += r.ms_max;
        if (!r.ok && total.ok) {
            total.ok = false;
            total.error = "a step failed: " + r.name;
        }
    }
    add_result(total);
}

int usage(const char* argv0) {
    std::fprintf(stderr, "usage: %s [--device cpu|cuda] [--json OUT.json] [--quick]\n", argv0);
    return 2;
}

// ---- contrastive losses: NT-Xent (SimCLR) and InfoNCE with a queue (MoCo) ------------------------------------------
// NT-Xent, R = 2n rows of d: fwd = the R x R logits (2 R^2 d) plus R^2 exponentials; reads z, writes 2R saves and the
// loss. bwd recomputes the logits and forms dz = W . u (4 R^2 d) with 2 R^2 exponentials; reads z and the saves,
// writes dz. (Quarry's CUDA backward recomputes the logits once per 64-wide chunk of d: 1.5x these FLOPs at d = 128;
// the count here is the minimum any implementation needs.) MoCo, n queries, queue kq x d: fwd 2 n kq d + n kq
// exponentials, reads q, k and the queue; bwd 4 n kq d, writes dq. Momentum update over ResNet-18's 11.2M parameters:
// 3 flop and 12 bytes per element.
void bench_contrastive() {
    const int n = g.quick ? 256 : 4096, d = g.quick ? 32 : 128;
    const int64_t rows = 2 * (int64_t)n, zn = rows * d;
    const float tau = 0.5f;
    {
        Buf z(zn * 4), dz(zn * 4), loss(4), lse(rows * 4), inv(rows * 4);
        randn(z, zn);
        const double r2 = (double)rows * rows;
        const std::string tag = fmt("n%d_d%d", n, d);
        bench("ntxent_fwd " + tag, "contrastive", 2.0 * r2 * d + r2, 4.0 * zn + 8.0 * rows + 4,
              [&] { ck(qy_ntxent_fwd(g.dev, nullptr, z.f(), loss.f(), lse.f(), inv.f(), n, d, tau), "qy_ntxent_fwd"); },
              [&] { return finite<float>("loss", loss.f(), 1); });
        bench("ntxent_bwd " + tag, "contrastive", 4.0 * r2 * d + 2.0 * r2, 8.0 * zn + 8.0 * rows,
              [&] {
                  ck(qy_ntxent_bwd(g.dev, nullptr, z.f(), lse.f(), inv.f(), dz.f(), n, d, tau, 1.0f), "qy_ntxent_bwd");
              },
              [&] { return finite<float>("dz", dz.f(), zn); });
    }
    const int nq = 256;
    const int64_t kq = g.quick ? 4096 : 65536;
    const int64_t qn = (int64_t)nq * d, un = kq * d;
    const float moco_tau = 0.07f;
    Buf q(qn * 4), k(qn * 4), queue(un * 4), dq(qn * 4), loss(4), lse(nq * 4);
    // Unit rows as MoCo feeds them: N(0, 1/d) entries have about unit norm, and the logits stay in MoCo's range.
    randn(q, qn, 1.0f / std::sqrt((float)d));
    randn(k, qn, 1.0f / std::sqrt((float)d));
    randn(queue, un, 1.0f / std::sqrt((float)d));
    const double nk = (double)nq * kq;
    const std::string tag = fmt("n%d_k%lld_d%d", nq, (long long)kq, d);
    bench("infonce_queue_fwd " + tag, "contrastive", 2.0 * nk * d + nk, 4.0 * (2 * qn + un) + 4.0 * nq + 4,
          [&] {
              ck(qy_infonce_queue_fwd(g.dev, nullptr, q.f(), k.f(), queue.f(), loss.f(), lse.f(), nq, kq, d, moco_tau),
                 "qy_infonce_queue_fwd");
          },
          [&] { return finite<float>("loss", loss.f(), 1); });
    bench("infonce_queue_bwd " + tag, "contrastive", 4.0 * nk * d + nk, 4.0 * (2 * qn + un + nq) + 4.0 * qn,
          [&] {
              ck(qy_infonce_queue_bwd(g.dev, nullptr, q.f(), k.f(), queue.f(), lse.f(), dq.f(), nq, kq, d, moco_tau,
                                      1.0f),
                 "qy_infonce_queue_bwd");
          },
          [&] { return finite<float>("dq", dq.f(), qn); });
    const int64_t params = g.quick ? 1 << 16 : 11173962;
    Buf theta_k(params * 4), theta_q(params * 4);
    randn(theta_k, params);
    randn(theta_q, params);
    bench(fmt("momentum_update n%lld", (long long)params), "contrastive", 3.0 * params, 12.0 * params,
          [&] { ck(qy_momentum_update(g.dev, nullptr, theta_k.f(), theta_q.f(), params, 0.999f), "qy_momentum_update"); },
          [&] { return finite<float>("theta_k", theta_k.f(), params); });
}

}  // namespace

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--device" && i + 1 < argc) {
            const std::string d = argv[++i];
            if (d == "cpu")
                g.dev = QY_DEV_CPU;
            else if (d == "cuda")
                g.dev = QY_DEV_CUDA;
            else
                return usage(argv[0]);
        } else if (a == "--json" && i + 1 < argc) {
            g.json_path = argv[++i];
        } else if (a == "--quick") {
            g.quick = true;
        } else {
            return usage(argv[0]);
        }
    }
    g.start_ms = now_ms();
    if (g.dev == QY_DEV_CUDA) {
        int count = 0;
        if (qy_cuda_device_count(&count) != QY_OK || count == 0) {
            std::fprintf(stderr, "bench_ops: no usable CUDA device: %s\n", qy_last_error());
            return 2;
        }
        char name[256] = "";
        int64_t total = 0;
        int major = 0, minor = 0, driver = 0, runtime = 0;
        if (qy_cuda_device_info(0, name, sizeof name, &total, &major, &minor, &driver, &runtime) == QY_OK)
            g.device_name = fmt("%s, %.1f GiB, cc %d.%d, driver %d, runtime %d", name, (double)total / (1 << 30), major,
                              minor, driver, runtime);
    } else {
        g.device_name = fmt("CPU, %d thread(s), %s", qy_cpu_threads(), qy_blas_info());
    }
    std::printf("quarry %s bench_ops on %s%s\n", qy_version(), g.device_name.c_str(),
                g.quick ? " (--quick sizes)" : "");
    std::printf("%-58s %10s %10s %10s %8s %9s %8s\n", "workload", "median ms", "min ms", "max ms", "reps", "GFLOP/s",
                "GB/s");

    auto family = [](const char* name, const std::function<void()>& fn) {
        try {
            fn();
        } catch (const std::exception& e) {  // setup failed (allocation, fills): the family's rows are missing
            record_failure(name, e.what());
        }
    };
    for (const ConvShape& s : conv_shapes()) family(("conv2d " + s.tag()).c_str(), [&] { bench_conv(s); });
    family("batchnorm", bench_batchnorm);
    family("linear", bench_linear);
    family("logsoftmax_nll", bench_softmax_nll);
    family("acquisition", bench_acquisition);
    family("contrastive", bench_contrastive);

    int failed = 0;
    for (const Result& r : g_results) failed += !r.ok;
    std::printf("%zu workloads, %d failed, %.1f s\n", g_results.size(), failed, (now_ms() - g.start_ms) / 1000.0);
    if (!g.json_path.empty()) {
        if (!write_json()) {
            std::fprintf(stderr, "bench_ops: cannot write %s\n", g.json_path.c_str());
            return 1;
        }
        std::printf("wrote %s\n", g.json_path.c_str());
    }
    return failed ? 1 : 0;
}
