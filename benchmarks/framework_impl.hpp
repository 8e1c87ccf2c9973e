#pragma once
// The workload's five variants as the framework runs them: the model definitions from
// models/, the generic tape, the library's SGD. No gradient here is written by hand.
#include <tapegrad/baseline/workload.hpp>
#include <tapegrad/models/all.hpp>

#include <memory>

namespace tg::bench {

// The workload's denoising variant: one fixed mask M, the same at every step (WORKLOAD.md), so
// that the hand-coded baseline and the framework see the same input. The benchmark's own, not
// the library's counter-based training noise.
template <class T>
class FixedMaskDenoising : public models::Autoencoder<T> {
public:
    FixedMaskDenoising(const models::AutoencoderConfig& c, Matrix<T> m) : models::Autoencoder<T>(c), mask(std::move(m)) {}

    Var<T> loss(Tape<T>& t, const models::Batch<T>& batch) override {
        corrupt(batch, corrupted);
        return this->reconstruction_loss(t, corrupted, batch.x);
    }
    bool corrupt(const models::Batch<T>& batch, Matrix<T>& out) override {
        if (shape_of(mask) != shape_of(batch.x))
            throw ShapeError("fixed-mask denoising: the mask has shape " + to_string(shape_of(mask)) +
                             " but the batch has shape " + to_string(shape_of(batch.x)));
        ensure_shape(out, shape_of(batch.x));
        // Pointers hoisted: through the members the compiler must assume aliasing and would not vectorize.
        const T *in = batch.x.data(), *m = mask.data();
        T* o = out.data();
        for (std::size_t i = 0, n = out.size(); i < n; ++i) o[i] = in[i] * m[i];
        return true;
    }

    Matrix<T> mask;

private:
    Matrix<T> corrupted;
};

template <class T>
class FrameworkAutoencoder {
public:
    FrameworkAutoencoder(workload::Variant variant, workload::Size size, const workload::InitialValues<T>& init)
        : x_(init.X) {
        models::AutoencoderConfig config{.input = size.D, .code = size.K, .encoder = Activation::sigmoid,
                                         .tied = workload::is_tied(variant)};
        using workload::Variant;
        switch (variant) {
            case Variant::tied:
            case Variant::untied: model_ = std::make_unique<models::Autoencoder<T>>(config); break;
            case Variant::sparse:
                model_ = std::make_unique<models::SparseAutoencoder<T>>(config, models::SparsityPenalty::l1, workload::lambda);
                break;
            case Variant::contractive:
                model_ = std::make_unique<models::ContractiveAutoencoder<T>>(config, workload::lambda);
                break;
            case Variant::denoising: model_ = std::make_unique<FixedMaskDenoising<T>>(config, init.M); break;
        }
        model_->W.value = init.W;
        model_->b1.value = init.b1;
        model_->b2.value = init.b2;
        if (model_->W2) model_->W2->value = init.W2;
        sgd_ = std::make_unique<SGD<T>>(model_->parameters(), workload::learning_rate);
    }

    // Forward and backward; the gradients are left in the parameters.
    T loss_and_gradients() {
        tape_.clear();
        sgd_->zero_grad();
        Var<T> loss = model_->loss(tape_, x_);
        tape_.backward(loss);
        return loss.value()(0, 0);
    }
    void sgd_update() { sgd_->step(); }
    T step() {
        const T loss = loss_and_gradients();
        sgd_update();
        return loss;
    }

    models::Autoencoder<T>& model() { return *model_; }

private:
    Matrix<T> x_;
    std::unique_ptr<models::Autoencoder<T>> model_;
    std::unique_ptr<SGD<T>> sgd_;
    Tape<T> tape_;
};

}  // namespace tg::bench
