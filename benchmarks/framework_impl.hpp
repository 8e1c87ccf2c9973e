#pragma once
// The workload's five variants as the framework runs them: the model definitions from
// models/, the generic tape, the library's SGD. No gradient here is written by hand.
#include <tapegrad/baseline/workload.hpp>
#include <tapegrad/models/all.hpp>

#include <memory>

namespace tg::bench {

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
            case Variant::denoising: {
                auto denoising = std::make_unique<models::DenoisingAutoencoder<T>>(
                    config, models::Corruption{models::Corruption::Kind::fixed_mask});
                denoising->set_fixed_mask(init.M);
                model_ = std::move(denoising);
                break;
            }
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
