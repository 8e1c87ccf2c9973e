#pragma once
// Optimizers. State buffers are allocated once, at construction; `step` updates parameters in
// place with one fused loop per parameter (split over the threads by position: the same
// numbers whatever their count) and skips frozen ones. Gradients are left as they
// are: call zero_grad() before the next backward (or keep accumulating on purpose).
#include "tapegrad/ops/blocks.hpp"
#include "tapegrad/parameter.hpp"

#include <cmath>
#include <cstdint>
#include <vector>

namespace tg {

template <class T>
class Optimizer {
public:
    explicit Optimizer(std::vector<Parameter<T>*> parameters) : parameters_(std::move(parameters)) {}
    virtual ~Optimizer() = default;

    virtual void step() = 0;
    void zero_grad() {
        for (Parameter<T>* p : parameters_) p->zero_grad();
    }

    double learning_rate = 0;
    // State for checkpoints: one buffer per parameter and slot, in a fixed order, plus the step count.
    std::vector<Matrix<T>*> state() {
        std::vector<Matrix<T>*> out;
        for (auto& slot : slots_)
            for (auto& m : slot) out.push_back(&m);
        return out;
    }
    std::int64_t steps = 0;

protected:
    // One zero-initialised buffer per parameter, shaped like it.
    std::vector<Matrix<T>> make_slot() const {
        std::vector<Matrix<T>> slot;
        for (Parameter<T>* p : parameters_) {
            slot.push_back(Matrix<T>::from_shape(p->value.shape()));
            std::fill(slot.back().begin(), slot.back().end(), T(0));
        }
        return slot;
    }

    // The loop every optimizer shares: for each parameter that is not frozen, one pass over its
    // elements, update(i, w, g, s0, s1) for element i of its value w, its gradient g and its
    // state slots s0, s1 (null where the optimizer has fewer). Split over the worker pool by
    // position: the same numbers whatever the thread count.
    template <class Update>
    void update_elements(Update update) {
        for (std::size_t k = 0; k < parameters_.size(); ++k) {
            Parameter<T>& p = *parameters_[k];
            if (p.frozen) continue;
            T* w = p.value.data();
            const T* g = p.grad.data();
            T* s0 = slots_.size() > 0 ? slots_[0][k].data() : nullptr;
            T* s1 = slots_.size() > 1 ? slots_[1][k].data() : nullptr;
            detail::for_elements(p.value.size(), [&](std::size_t lo, std::size_t hi) {
                for (std::size_t i = lo; i < hi; ++i) update(i, w, g, s0, s1);
            });
        }
    }

    std::vector<Parameter<T>*> parameters_;
    std::vector<std::vector<Matrix<T>>> slots_;
};

// p -= lr * g, or with momentum mu:  v = mu v + g;  p -= lr v  (Nesterov: p -= lr (g + mu v))
template <class T>
class SGD : public Optimizer<T> {
public:
    SGD(std::vector<Parameter<T>*> parameters, double lr, double momentum_ = 0, bool nesterov_ = false)
        : Optimizer<T>(std::move(parameters)), momentum(momentum_), nesterov(nesterov_) {
        this->learning_rate = lr;
        if (momentum != 0) this->slots_.push_back(this->make_slot());
    }

    void step() override {
        ++this->steps;
        const T lr = T(this->learning_rate), mu = T(momentum);
        if (momentum == 0)
            this->update_elements([=](std::size_t i, T* w, const T* g, T*, T*) { w[i] -= lr * g[i]; });
        else
            this->update_elements([=, nesterov = nesterov](std::size_t i, T* w, const T* g, T* v, T*) {
                v[i] = mu * v[i] + g[i];
                w[i] -= lr * (nesterov ? g[i] + mu * v[i] : v[i]);
            });
    }

    double momentum;
    bool nesterov;
};

// s = rho s + (1 - rho) g^2;  p -= lr g / (sqrt(s) + eps)   (Keras' defaults: rho 0.9, eps 1e-7)
template <class T>
class RMSProp : public Optimizer<T> {
public:
    RMSProp(std::vector<Parameter<T>*> parameters, double lr, double rho_ = 0.9, double eps_ = 1e-7)
        : Optimizer<T>(std::move(parameters)), rho(rho_), eps(eps_) {
        this->learning_rate = lr;
        this->slots_.push_back(this->make_slot());
    }

    void step() override {
        ++this->steps;
        const T lr = T(this->learning_rate), r = T(rho), e = T(eps);
        this->update_elements([=](std::size_t i, T* w, const T* g, T* s, T*) {
            s[i] = r * s[i] + (T(1) - r) * g[i] * g[i];
            w[i] -= lr * g[i] / (std::sqrt(s[i]) + e);
        });
    }

    double rho, eps;
};

// m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  p -= lr m^ / (sqrt(v^) + eps),
// with the bias corrections m^ = m / (1 - b1^t), v^ = v / (1 - b2^t)
template <class T>
class Adam : public Optimizer<T> {
public:
    Adam(std::vector<Parameter<T>*> parameters, double lr, double beta1_ = 0.9, double beta2_ = 0.999,
         double eps_ = 1e-8)
        : Optimizer<T>(std::move(parameters)), beta1(beta1_), beta2(beta2_), eps(eps_) {
        this->learning_rate = lr;
        this->slots_.push_back(this->make_slot());
        this->slots_.push_back(this->make_slot());
    }

    void step() override {
        const double t = double(++this->steps);
        const T b1 = T(beta1), b2 = T(beta2), e = T(eps);
        const T c1 = T(1.0 / (1.0 - std::pow(beta1, t))), c2 = T(1.0 / (1.0 - std::pow(beta2, t)));
        const T lr = T(this->learning_rate);
        this->update_elements([=](std::size_t i, T* w, const T* g, T* m, T* v) {
            m[i] = b1 * m[i] + (T(1) - b1) * g[i];
            v[i] = b2 * v[i] + (T(1) - b2) * g[i] * g[i];
            w[i] -= lr * (m[i] * c1) / (std::sqrt(v[i] * c2) + e);
        });
    }

    double beta1, beta2, eps;
};

// Rescales all gradients together so that their joint L2 norm is at most max_norm; returns
// the norm before clipping. On the worker pool: each parameter's sum of squares over fixed
// chunks (added in chunk order), the parameters' sums in order: the same bits at any thread count.
template <class T>
double clip_grad_norm(const std::vector<Parameter<T>*>& parameters, double max_norm) {
    constexpr std::size_t chunk = 4096;
    double sq = 0;
    for (const Parameter<T>* p : parameters)
        if (!p->frozen)
            sq += detail::sum_over_chunks(p->grad.size(), chunk, [g = p->grad.data()](std::size_t begin, std::size_t size) {
                double s = 0;
                for (std::size_t i = begin; i < begin + size; ++i) s += double(g[i]) * double(g[i]);
                return s;
            });
    const double norm = std::sqrt(sq);
    if (norm > max_norm && norm > 0) {
        const T f = T(max_norm / norm);
        for (Parameter<T>* p : parameters)
            if (!p->frozen) {
                T* g = p->grad.data();
                detail::for_elements(p->grad.size(), [=](std::size_t lo, std::size_t hi) {
                    for (std::size_t i = lo; i < hi; ++i) g[i] *= f;
                });
            }
    }
    return norm;
}

}  // namespace tg
