// Checks the hand-coded baseline, then (unless --check-only) prints its reference table.
//
// Checks, for all five variants, in double:
//   1. the loss at the initial values equals a naive triple-loop evaluation of benchmarks/WORKLOAD.md;
//   2. every gradient entry of W, b1, b2 (and W2) matches a central finite difference of
//      loss_and_gradients();
//   3. a second loss_and_gradients() call gives bit-identical gradients (buffers are overwritten,
//      not accumulated);
//   4. float agrees with double on the first loss;
//   5. a negative control (a gradient wrong in one entry by 1 %) is caught by check 2.
// Table: for every variant, size and type, the workload protocol (20 warm-up steps, 200 timed),
// one CSV row impl,threads,dtype,variant,D,K,B,us_per_step,loss_first,loss_last.
//
// Usage: gradcheck_handcoded [--check-only] [--threads N]     exit status 1 if a check fails.
#include <tapegrad/baseline/handcoded.hpp>
#include <tapegrad/baseline/workload.hpp>
#include <tapegrad/threads.hpp>

#include <xtensor/xmath.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using tg::handcoded::Autoencoder;
using tg::workload::InitialValues;
using tg::workload::Size;
using tg::workload::Variant;
using Matrix = xt::xtensor<double, 2>;

int failures = 0;

void expect(bool ok, const std::string& what) {
    if (!ok) {
        ++failures;
        std::printf("FAIL: %s\n", what.c_str());
    }
}

// benchmarks/WORKLOAD.md read literally: plain loops, everything in double.
double naive_loss(Variant v, Size n, const InitialValues<double>& iv, const Matrix& W, const Matrix& b1,
                  const Matrix& b2, const Matrix& W2) {
    const auto [D, K, B] = n;
    const double lambda = tg::workload::lambda;
    double mse = 0, sparse = 0, contractive = 0;
    std::vector<double> h(K);
    for (std::size_t b = 0; b < B; ++b) {
        auto xin = [&](std::size_t i) { return v == Variant::denoising ? iv.X(b, i) * iv.M(b, i) : iv.X(b, i); };
        for (std::size_t j = 0; j < K; ++j) {
            double z = b1(0, j);
            for (std::size_t i = 0; i < D; ++i) z += xin(i) * W(j, i);
            h[j] = 1 / (1 + std::exp(-z));
        }
        for (std::size_t i = 0; i < D; ++i) {
            double r = b2(0, i);
            for (std::size_t j = 0; j < K; ++j) r += h[j] * (v == Variant::untied ? W2(i, j) : W(j, i));
            mse += (r - iv.X(b, i)) * (r - iv.X(b, i));
        }
        for (std::size_t j = 0; j < K; ++j) {
            sparse += std::abs(h[j]);
            double c = 0;
            for (std::size_t i = 0; i < D; ++i) c += W(j, i) * W(j, i);
            contractive += (h[j] * (1 - h[j])) * (h[j] * (1 - h[j])) * c;
        }
    }
    double loss = mse / double(B * D);
    if (v == Variant::sparse) loss += lambda / double(B) * sparse;
    if (v == Variant::contractive) loss += lambda / double(B) * contractive;
    return loss;
}

double rel_diff(double a, double b) { return std::abs(a - b) / std::max({std::abs(a), std::abs(b), 1e-300}); }

// 2. central differences with the five-point stencil: its O(eps^4) truncation error allows a
// step large enough to keep rounding noise near 1e-13 (the two-point rule left a margin of
// only 2x at 32x16x32). An entry's error is relative to itself but never to less than 1e-3 of
// the largest entry of its tensor, so that nearly-zero entries do not turn noise into failure.
constexpr double kTolerance = 1e-6;

// The largest such error over the entries of `value` (a parameter of `ae`), whose claimed
// gradient is `grad`.
double worst_fd_error(Autoencoder<double>& ae, Matrix& value, const Matrix& grad) {
    const double scale = xt::amax(xt::abs(grad))();
    double worst = 0;
    for (std::size_t i = 0; i < value.size(); ++i) {
        double& x = value.data()[i];
        const double saved = x, eps = 1e-3 * std::max(1.0, std::abs(saved));
        auto loss_at = [&](double offset) {
            x = saved + offset;
            return ae.loss_and_gradients();
        };
        const double fd = (8 * (loss_at(eps) - loss_at(-eps)) - (loss_at(2 * eps) - loss_at(-2 * eps))) / (12 * eps);
        x = saved;
        const double an = grad.data()[i];
        worst = std::max(worst, std::abs(fd - an) / std::max({std::abs(fd), std::abs(an), 1e-3 * scale}));
    }
    return worst;
}

// The checker must catch a gradient that is wrong in one entry of the second parameter by 1 %
// (a checker that looked only at entry 0, or only at W, would not).
bool negative_control_caught() {
    const Size n{6, 3, 4};
    const auto iv = tg::workload::make_initial_values<double>(Variant::tied, n);
    Autoencoder<double> ae(Variant::tied, n, iv);
    ae.loss_and_gradients();
    Matrix wrong = ae.grad_b1();
    wrong(0, 2) *= 1.01;
    const double worst = worst_fd_error(ae, ae.b1(), wrong);
    std::printf("negative control (b1(0, 2) off by 1 %%): max rel err %.2e: %s\n", worst,
                worst >= kTolerance ? "caught, as it must be" : "NOT CAUGHT: the checker is broken");
    return worst >= kTolerance;
}

void check_variant(Variant v, Size n) {
    const std::string tag = std::string(tg::workload::name(v)) + " " + std::to_string(n.D) + "x" +
                            std::to_string(n.K) + "x" + std::to_string(n.B);
    const auto iv = tg::workload::make_initial_values<double>(v, n);
    Autoencoder<double> ae(v, n, iv);

    // 1. the loss is the workload's loss
    const double loss = ae.loss_and_gradients();
    const double ref = naive_loss(v, n, iv, ae.W(), ae.b1(), ae.b2(), ae.W2());
    expect(rel_diff(loss, ref) < 1e-12, tag + ": loss " + std::to_string(loss) + " vs naive " + std::to_string(ref));

    // 3. gradients are overwritten, not accumulated
    const Matrix gW = ae.grad_W(), gb1 = ae.grad_b1(), gb2 = ae.grad_b2(), gW2 = ae.grad_W2();
    ae.loss_and_gradients();
    expect(gW == ae.grad_W() && gb1 == ae.grad_b1() && gb2 == ae.grad_b2() && gW2 == ae.grad_W2(),
           tag + ": a second call changed the gradients");

    // 2. finite differences (worst_fd_error)
    struct Param {
        const char* name;
        Matrix* value;
        const Matrix* grad;
    };
    std::vector<Param> params = {{"W", &ae.W(), &gW}, {"b1", &ae.b1(), &gb1}, {"b2", &ae.b2(), &gb2}};
    if (v == Variant::untied) params.push_back({"W2", &ae.W2(), &gW2});
    for (const Param& p : params) {
        const double worst = worst_fd_error(ae, *p.value, *p.grad);
        std::printf("gradcheck %-24s %-3s max rel err %.2e\n", tag.c_str(), p.name, worst);
        expect(xt::amax(xt::abs(*p.grad))() > 0, tag + " " + p.name + ": zero gradient");
        expect(worst < kTolerance, tag + " " + p.name + ": finite differences disagree");
    }

    // 4. float computes the same loss
    const auto ivf = tg::workload::make_initial_values<float>(v, n);
    Autoencoder<float> aef(v, n, ivf);
    const double lossf = aef.loss_and_gradients();
    expect(rel_diff(lossf, loss) < 1e-5, tag + ": float loss " + std::to_string(lossf) + " vs double");
}

struct Run {
    double us_per_step, loss_first, loss_last;
};

// The workload protocol: fresh initial values, 20 warm-up steps (the first gives loss_first),
// 200 timed steps.
template <class T>
Run run_protocol(Variant v, Size n) {
    const auto iv = tg::workload::make_initial_values<T>(v, n);
    Autoencoder<T> ae(v, n, iv);
    Run r{};
    r.loss_first = ae.step();
    for (int s = 1; s < 20; ++s) ae.step();
    T last = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int s = 0; s < 200; ++s) last = ae.step();
    const auto t1 = std::chrono::steady_clock::now();
    r.us_per_step = std::chrono::duration<double, std::micro>(t1 - t0).count() / 200;
    r.loss_last = last;
    return r;
}

void print_table(int threads) {
    std::printf("impl,threads,dtype,variant,D,K,B,us_per_step,loss_first,loss_last\n");
    for (const Size& n : tg::workload::standard_sizes)
        for (Variant v : tg::workload::all_variants)
            for (int t = 0; t < 2; ++t) {
                const Run r = t == 0 ? run_protocol<float>(v, n) : run_protocol<double>(v, n);
                std::printf("handcoded,%d,%s,%s,%zu,%zu,%zu,%.2f,%.17g,%.17g\n", threads, t == 0 ? "float32" : "float64",
                            tg::workload::name(v), n.D, n.K, n.B, r.us_per_step, r.loss_first, r.loss_last);
                std::fflush(stdout);
            }
}

}  // namespace

int main(int argc, char** argv) {
    bool check_only = false;
    int threads = 1;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--check-only") == 0) {
            check_only = true;
        } else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            threads = std::atoi(argv[++i]);
            if (threads < 1) {
                std::fprintf(stderr, "--threads needs a positive integer\n");
                return 2;
            }
        } else {
            std::fprintf(stderr, "usage: %s [--check-only] [--threads N]\n", argv[0]);
            return 2;
        }
    }
    tg::set_num_threads(threads);  // products split over the pool; the elementwise loops stay serial

    for (Size n : {Size{6, 3, 4}, Size{32, 16, 32}, Size{17, 1, 5}})
        for (Variant v : tg::workload::all_variants) check_variant(v, n);
    expect(negative_control_caught(), "the negative control was not caught");
    if (failures != 0) {
        std::printf("%d check(s) FAILED\n", failures);
        return 1;
    }
    std::printf("all checks passed\n");
    if (!check_only) print_table(threads);
    return 0;
}
