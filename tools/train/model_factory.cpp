#include "model_factory.hpp"

namespace train {

template <class T>
std::unique_ptr<tg::models::Model<T>> make_model(const TrainConfig& c, std::size_t input) {
    using namespace tg::models;
    AutoencoderConfig ac;
    ac.input = input;
    ac.code = c.code;
    ac.encoder = tg::parse_activation(c.encoder);
    ac.sigmoid_decoder = c.decoder == "sigmoid";
    ac.tied = c.tied;
    ac.loss = c.loss == "bce" ? Reconstruction::binary_cross_entropy : Reconstruction::mse;
    ac.weight_decay = c.weight_decay;
    ac.seed = c.seed;
    try {
        if (c.model == "autoencoder") return std::make_unique<Autoencoder<T>>(ac);
        if (c.model == "sparse")
            return std::make_unique<SparseAutoencoder<T>>(
                ac, c.sparsity == "kl" ? SparsityPenalty::kl : SparsityPenalty::l1, c.sparsity_weight, c.sparsity_rho);
        if (c.model == "denoising") {
            Corruption corruption;
            corruption.kind = c.corruption == "gaussian" ? Corruption::Kind::gaussian : Corruption::Kind::masking;
            corruption.amount = c.corruption_amount;
            corruption.seed = noise_seed(c.seed);
            return std::make_unique<DenoisingAutoencoder<T>>(ac, corruption);
        }
        if (c.model == "contractive") return std::make_unique<ContractiveAutoencoder<T>>(ac, c.contractive_lambda);
        if (c.model == "stacked") {
            std::vector<std::size_t> sizes{input};
            sizes.insert(sizes.end(), c.layers.begin(), c.layers.end());
            return std::make_unique<StackedAutoencoder<T>>(sizes, ac.encoder, c.tied, ac.sigmoid_decoder, c.seed);
        }
    } catch (const std::invalid_argument& e) {
        // The models check their own settings; those checks are the user's to fix.
        throw UsageError(e.what());
    }
    throw UsageError("model kind '" + c.model + "' is not a trainable model");
}

template <class T>
std::unique_ptr<tg::Optimizer<T>> make_optimizer(const TrainConfig& c, std::vector<tg::Parameter<T>*> p) {
    if (c.optimizer == "sgd") return std::make_unique<tg::SGD<T>>(std::move(p), c.lr);
    if (c.optimizer == "momentum") return std::make_unique<tg::SGD<T>>(std::move(p), c.lr, c.momentum, false);
    if (c.optimizer == "nesterov") return std::make_unique<tg::SGD<T>>(std::move(p), c.lr, c.momentum, true);
    if (c.optimizer == "rmsprop") return std::make_unique<tg::RMSProp<T>>(std::move(p), c.lr, c.rmsprop_rho, c.eps);
    if (c.optimizer == "adam") return std::make_unique<tg::Adam<T>>(std::move(p), c.lr, c.beta1, c.beta2, c.eps);
    throw UsageError("unknown optimizer '" + c.optimizer + "'");
}

template <class T>
std::mt19937_64* noise_rng(tg::models::Model<T>& model) {
    if (auto* d = dynamic_cast<tg::models::DenoisingAutoencoder<T>*>(&model)) return &d->noise;
    return nullptr;
}

template std::unique_ptr<tg::models::Model<float>> make_model<float>(const TrainConfig&, std::size_t);
template std::unique_ptr<tg::models::Model<double>> make_model<double>(const TrainConfig&, std::size_t);
template std::unique_ptr<tg::Optimizer<float>> make_optimizer<float>(const TrainConfig&, std::vector<tg::Parameter<float>*>);
template std::unique_ptr<tg::Optimizer<double>> make_optimizer<double>(const TrainConfig&, std::vector<tg::Parameter<double>*>);
template std::mt19937_64* noise_rng<float>(tg::models::Model<float>&);
template std::mt19937_64* noise_rng<double>(tg::models::Model<double>&);

}  // namespace train
