#include <tapegrad/baseline/conv_handcoded.hpp>

#include <tapegrad/blas.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

namespace tg::handcoded {
namespace {

void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t lda,
          const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc) {
    blas::general_gemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}
void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const double* a, std::size_t lda,
          const double* b, std::size_t ldb, double beta, double* c, std::size_t ldc) {
    blas::general_gemm(ta, tb, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc);
}

template <class T>
xt::xtensor<T, 2> uniform(std::size_t r, std::size_t c, double fan_in, double fan_out, std::mt19937_64& rng) {
    const double limit = std::sqrt(6.0 / (fan_in + fan_out));
    std::uniform_real_distribution<double> u(-limit, limit);
    xt::xtensor<T, 2> m = xt::xtensor<T, 2>::from_shape({r, c});
    for (T& v : m) v = T(u(rng));
    return m;
}
template <class T>
xt::xtensor<T, 2> zeros(std::size_t r, std::size_t c) {
    return xt::zeros<T>(std::array<std::size_t, 2>{r, c});
}

// out[row] = bias for every row of `rows` rows of n values.
template <class T>
void fill_rows(T* out, const T* bias, std::size_t rows, std::size_t n) {
    for (std::size_t i = 0; i < rows; ++i, out += n) std::copy(bias, bias + n, out);
}
template <class T>
void relu(T* v, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) v[i] = v[i] > T(0) ? v[i] : T(0);
}
// g[i] = 0 where the relu output y[i] was 0 (its input was not positive).
template <class T>
void relu_mask(T* g, const T* y, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) g[i] = y[i] > T(0) ? g[i] : T(0);
}
// db = column sums of the rows x n array g.
template <class T>
void column_sums(const T* g, std::size_t rows, std::size_t n, T* db) {
    std::fill(db, db + n, T(0));
    for (std::size_t i = 0; i < rows; ++i, g += n)
        for (std::size_t j = 0; j < n; ++j) db[j] += g[j];
}

}  // namespace

template <class T>
ConvAutoencoder<T>::ConvAutoencoder(const ConvConfig& c, std::uint64_t seed) : config_(c) {
    std::mt19937_64 rng(seed);
    const std::size_t k = c.kernel, s = c.stride, p = c.padding, B = c.batch;
    std::size_t h = c.height, w = c.width, ch = c.image_channels;
    for (std::size_t out_c : c.channels) {
        if (h + 2 * p < k || w + 2 * p < k || p >= k) throw std::invalid_argument("handcoded conv: the window does not fit");
        const std::size_t rest_h = (h + 2 * p - k) % s, rest_w = (w + 2 * p - k) % s;
        if (rest_h != rest_w || rest_h > p) throw std::invalid_argument("handcoded conv: a geometry the decoder cannot undo");
        Layer l{h, w, ch, (h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1, out_c, rest_h, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}};
        const std::size_t R = k * k * ch, P = B * l.out_h * l.out_w;
        l.K = uniform<T>(R, out_c, double(R), double(k * k * out_c), rng);
        l.b = zeros<T>(1, out_c);
        l.c = zeros<T>(1, ch);
        l.dK = zeros<T>(R, out_c);
        l.db = zeros<T>(1, out_c);
        l.dc = zeros<T>(1, ch);
        l.cols = zeros<T>(P, R);
        l.work = zeros<T>(P, R);
        l.a = zeros<T>(B, l.out_h * l.out_w * out_c);
        l.g = zeros<T>(B, h * w * ch);
        layers_.push_back(std::move(l));
        h = layers_.back().out_h, w = layers_.back().out_w, ch = out_c;
    }
    const std::size_t flat = h * w * ch, code = c.code;
    if (code > 0) {
        W_ = uniform<T>(code, flat, double(flat), double(code), rng);
        bW_ = zeros<T>(1, code), cW_ = zeros<T>(1, flat);
        dW_ = zeros<T>(code, flat), dbW_ = zeros<T>(1, code), dcW_ = zeros<T>(1, flat);
        h_ = zeros<T>(B, code), dh_ = zeros<T>(B, code), gL_ = zeros<T>(B, flat);
    }
    dgL_ = zeros<T>(B, flat);
    grad_g_ = zeros<T>(B, c.height * c.width * c.image_channels);
    std::size_t largest = 0;
    for (const Layer& l : layers_) largest = std::max(largest, l.a.size());
    grad_a_ = zeros<T>(1, largest);
}

// For output pixel (oy, ox) and kernel row ky, the in-image part of the window row is the
// columns kx in [lo, hi): one contiguous run of (hi - lo)·C values, channels being last.
// run(pixel offset in the images, offset in the columns matrix, length) for each such run.
template <class Run>
static void for_each_run(std::size_t batch, std::size_t k, std::size_t s, std::size_t p, std::size_t in_h, std::size_t in_w,
                  std::size_t C, std::size_t out_h, std::size_t out_w, Run run) {
    std::size_t row = 0;  // offset of the current output pixel's window row in the columns matrix
    for (std::size_t b = 0; b < batch; ++b)
        for (std::size_t oy = 0; oy < out_h; ++oy)
            for (std::size_t ox = 0; ox < out_w; ++ox, row += k * k * C) {
                const long left = long(ox * s) - long(p);
                const std::size_t lo = std::size_t(std::max(0L, -left)), hi = std::size_t(std::min(long(k), long(in_w) - left));
                for (std::size_t ky = 0; ky < k; ++ky) {
                    const long iy = long(oy * s + ky) - long(p);
                    if (iy < 0 || iy >= long(in_h) || lo >= hi) continue;
                    run((b * in_h * in_w + std::size_t(iy) * in_w + std::size_t(left + long(lo))) * C, row + (ky * k + lo) * C,
                        (hi - lo) * C);
                }
            }
}

template <class T>
void ConvAutoencoder<T>::gather(const T* image, const Layer& l, T* cols) const {
    std::fill(cols, cols + config_.batch * l.out_h * l.out_w * config_.kernel * config_.kernel * l.in_c, T(0));
    for_each_run(config_.batch, config_.kernel, config_.stride, config_.padding, l.in_h, l.in_w, l.in_c, l.out_h, l.out_w,
                 [&](std::size_t pixel, std::size_t at, std::size_t n) { std::copy(image + pixel, image + pixel + n, cols + at); });
}

template <class T>
void ConvAutoencoder<T>::scatter_add(const T* cols, const Layer& l, T* image) const {
    for_each_run(config_.batch, config_.kernel, config_.stride, config_.padding, l.in_h, l.in_w, l.in_c, l.out_h, l.out_w,
                 [&](std::size_t pixel, std::size_t at, std::size_t n) {
                     for (std::size_t i = 0; i < n; ++i) image[pixel + i] += cols[at + i];
                 });
}

template <class T>
T ConvAutoencoder<T>::loss_and_gradients(const Matrix& x) {
    const std::size_t B = config_.batch, k = config_.kernel, L = layers_.size(), code = config_.code;
    if (x.shape()[0] != B || x.shape()[1] != grad_g_.shape()[1])
        throw std::invalid_argument("handcoded conv: the batch has the wrong shape");
    // ---- forward ----
    const T* input = x.data();
    for (Layer& l : layers_) {
        const std::size_t P = B * l.out_h * l.out_w, R = k * k * l.in_c;
        gather(input, l, l.cols.data());
        fill_rows(l.a.data(), l.b.data(), P, l.out_c);
        gemm(false, false, P, l.out_c, R, l.cols.data(), R, l.K.data(), l.out_c, T(1), l.a.data(), l.out_c);
        relu(l.a.data(), l.a.size());
        input = l.a.data();
    }
    const std::size_t flat = layers_.back().a.shape()[1];
    const T* top = layers_.back().a.data();  // the decoder's input
    if (code > 0) {
        fill_rows(h_.data(), bW_.data(), B, code);
        gemm(false, true, B, code, flat, top, flat, W_.data(), flat, T(1), h_.data(), code);
        relu(h_.data(), h_.size());
        fill_rows(gL_.data(), cW_.data(), B, flat);
        gemm(false, false, B, flat, code, h_.data(), code, W_.data(), flat, T(1), gL_.data(), flat);
        relu(gL_.data(), gL_.size());
        top = gL_.data();
    }
    for (std::size_t i = L; i-- > 0;) {
        Layer& l = layers_[i];
        const std::size_t P = B * l.out_h * l.out_w, R = k * k * l.in_c;
        const T* m = i + 1 == L ? top : layers_[i + 1].g.data();
        gemm(false, true, P, R, l.out_c, m, l.out_c, l.K.data(), l.out_c, T(0), l.work.data(), R);
        fill_rows(l.g.data(), l.c.data(), B * l.in_h * l.in_w, l.in_c);
        scatter_add(l.work.data(), l, l.g.data());
        if (i > 0) relu(l.g.data(), l.g.size());
    }
    const T* r = layers_[0].g.data();
    const std::size_t n = x.size();
    double loss = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double d = double(r[i]) - double(x.data()[i]);
        loss += d * d;
        grad_g_.data()[i] = T(2 * d / double(n));
    }
    // ---- backward: the decoder from the output down to its input, then the code, then the
    // encoder from the top back to the image. dK starts at the decoder's share (beta 0) and
    // the encoder adds its own (beta 1): the tie.
    T* dout = grad_g_.data();  // dL/d(output of decoder layer i), relu mask applied
    for (std::size_t i = 0; i < L; ++i) {
        Layer& l = layers_[i];
        const std::size_t P = B * l.out_h * l.out_w, R = k * k * l.in_c;
        const T* m = i + 1 == L ? top : layers_[i + 1].g.data();
        T* dm = i + 1 == L ? dgL_.data() : grad_a_.data();
        column_sums(dout, B * l.in_h * l.in_w, l.in_c, l.dc.data());
        gather(dout, l, l.work.data());
        gemm(true, false, R, l.out_c, P, l.work.data(), R, m, l.out_c, T(0), l.dK.data(), l.out_c);
        gemm(false, false, P, l.out_c, R, l.work.data(), R, l.K.data(), l.out_c, T(0), dm, l.out_c);
        if (i + 1 < L) {
            // dm becomes the next layer's dout, in the same buffer: that layer reads all of it
            // (column sums, gather) before its own gemm overwrites the buffer with its dm.
            relu_mask(dm, layers_[i + 1].g.data(), layers_[i + 1].g.size());
            dout = dm;
        }
    }
    T* da = dgL_.data();  // dL/d(a_L): straight from the decoder, or through the code
    if (code > 0) {
        relu_mask(dgL_.data(), gL_.data(), gL_.size());
        column_sums(dgL_.data(), B, flat, dcW_.data());
        gemm(true, false, code, flat, B, h_.data(), code, dgL_.data(), flat, T(0), dW_.data(), flat);
        gemm(false, true, B, code, flat, dgL_.data(), flat, W_.data(), flat, T(0), dh_.data(), code);
        relu_mask(dh_.data(), h_.data(), h_.size());
        column_sums(dh_.data(), B, code, dbW_.data());
        gemm(true, false, code, flat, B, dh_.data(), code, layers_.back().a.data(), flat, T(1), dW_.data(), flat);
        gemm(false, false, B, flat, code, dh_.data(), code, W_.data(), flat, T(0), dgL_.data(), flat);
    }
    for (std::size_t i = L; i-- > 0;) {
        Layer& l = layers_[i];
        const std::size_t P = B * l.out_h * l.out_w, R = k * k * l.in_c;
        relu_mask(da, l.a.data(), l.a.size());
        column_sums(da, P, l.out_c, l.db.data());
        gemm(true, false, R, l.out_c, P, l.cols.data(), R, da, l.out_c, T(1), l.dK.data(), l.out_c);
        if (i == 0) break;
        gemm(false, true, P, R, l.out_c, da, l.out_c, l.K.data(), l.out_c, T(0), l.work.data(), R);
        T* below = grad_a_.data();
        std::fill(below, below + layers_[i - 1].a.size(), T(0));
        scatter_add(l.work.data(), l, below);
        da = below;
    }
    return T(loss / double(n));
}

template <class T>
void ConvAutoencoder<T>::sgd_update(T learning_rate) {
    std::vector<Matrix*> p = parameters(), g = gradients();
    for (std::size_t i = 0; i < p.size(); ++i) {
        T* v = p[i]->data();
        const T* d = g[i]->data();
        for (std::size_t j = 0, n = p[i]->size(); j < n; ++j) v[j] -= learning_rate * d[j];
    }
}

// The layers' three arrays picked by `per_layer`, layer by layer for each, then the dense ones.
template <class T>
std::vector<typename ConvAutoencoder<T>::Matrix*> ConvAutoencoder<T>::collect(std::initializer_list<Matrix Layer::*> per_layer,
                                                                            std::initializer_list<Matrix*> dense) {
    std::vector<Matrix*> out;
    for (Matrix Layer::*member : per_layer)
        for (Layer& l : layers_) out.push_back(&(l.*member));
    if (config_.code > 0) out.insert(out.end(), dense);
    return out;
}

template <class T>
std::vector<typename ConvAutoencoder<T>::Matrix*> ConvAutoencoder<T>::parameters() {
    return collect({&Layer::K, &Layer::b, &Layer::c}, {&W_, &bW_, &cW_});
}

template <class T>
std::vector<typename ConvAutoencoder<T>::Matrix*> ConvAutoencoder<T>::gradients() {
    return collect({&Layer::dK, &Layer::db, &Layer::dc}, {&dW_, &dbW_, &dcW_});
}

template <class T>
std::vector<std::string> ConvAutoencoder<T>::parameter_names() const {
    std::vector<std::string> names;
    for (const char* prefix : {"K", "b", "c"})
        for (std::size_t l = 0; l < layers_.size(); ++l) names.push_back(prefix + std::to_string(l + 1));
    if (config_.code > 0) names.insert(names.end(), {"W", "bW", "cW"});
    return names;
}

template class ConvAutoencoder<float>;
template class ConvAutoencoder<double>;

}  // namespace tg::handcoded
