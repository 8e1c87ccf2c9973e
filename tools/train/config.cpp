#include "config.hpp"

#include "json_fields.hpp"

#include <tapegrad/ops/activations.hpp>

#include <algorithm>
#include <charconv>
#include <initializer_list>

namespace train {

namespace {
// The whole text must be a decimal number in [0, 2^64): std::stoull would accept "-1" (as
// 2^64 - 1) and "12abc".
std::uint64_t parse_seed(const std::string& text) {
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size())
        throw tg::io::FormatError("\"seed\" must be a decimal integer in [0, 2^64), not \"" + text + "\"");
    return v;
}

bool one_of(const std::string& v, std::initializer_list<const char*> allowed) {
    return std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return v == a; });
}
}  // namespace

void to_json(nlohmann::json& j, const TrainConfig& c) {
    j = nlohmann::json{
        {"model", c.model},
        {"encoder", c.encoder},
        {"decoder", c.decoder},
        {"loss", c.loss},
        {"code", c.code},
        {"tied", c.tied},
        {"layers", c.layers},
        {"weight_decay", c.weight_decay},
        {"sparsity", c.sparsity},
        {"sparsity_weight", c.sparsity_weight},
        {"sparsity_rho", c.sparsity_rho},
        {"corruption", c.corruption},
        {"corruption_amount", c.corruption_amount},
        {"contractive_lambda", c.contractive_lambda},
        {"pca_method", c.pca_method},
        {"optimizer", c.optimizer},
        {"lr", c.lr},
        {"momentum", c.momentum},
        {"beta1", c.beta1},
        {"beta2", c.beta2},
        {"eps", c.eps},
        {"rmsprop_rho", c.rmsprop_rho},
        {"clip_grad_norm", c.clip_grad_norm},
        {"lr_schedule", c.lr_schedule},
        {"epochs", c.epochs},
        {"batch", c.batch},
        // As a string: JSON readers elsewhere (Python, jq) lose integers above 2^53.
        {"seed", std::to_string(c.seed)},
        {"dtype", c.dtype},
        {"data_dir", c.data_dir},
        {"train_npy", c.train_npy},
        {"test_npy", c.test_npy},
        {"limit", c.limit},
        {"test_limit", c.test_limit},
    };
}

void from_json(const nlohmann::json& j, TrainConfig& c) {
    j.at("model").get_to(c.model);
    j.at("encoder").get_to(c.encoder);
    j.at("decoder").get_to(c.decoder);
    j.at("loss").get_to(c.loss);
    c.code = get_integer<std::size_t>(j, "code");
    j.at("tied").get_to(c.tied);
    const nlohmann::json& layers = j.at("layers");
    if (!layers.is_array()) throw tg::io::FormatError("\"layers\" must be an array, not " + layers.dump());
    c.layers.clear();
    for (const nlohmann::json& size : layers) c.layers.push_back(to_integer<std::size_t>(size, "an entry of \"layers\""));
    j.at("weight_decay").get_to(c.weight_decay);
    j.at("sparsity").get_to(c.sparsity);
    j.at("sparsity_weight").get_to(c.sparsity_weight);
    j.at("sparsity_rho").get_to(c.sparsity_rho);
    j.at("corruption").get_to(c.corruption);
    j.at("corruption_amount").get_to(c.corruption_amount);
    j.at("contractive_lambda").get_to(c.contractive_lambda);
    j.at("pca_method").get_to(c.pca_method);
    j.at("optimizer").get_to(c.optimizer);
    j.at("lr").get_to(c.lr);
    j.at("momentum").get_to(c.momentum);
    j.at("beta1").get_to(c.beta1);
    j.at("beta2").get_to(c.beta2);
    j.at("eps").get_to(c.eps);
    j.at("rmsprop_rho").get_to(c.rmsprop_rho);
    j.at("clip_grad_norm").get_to(c.clip_grad_norm);
    j.at("lr_schedule").get_to(c.lr_schedule);
    c.epochs = get_integer<int>(j, "epochs");
    c.batch = get_integer<std::size_t>(j, "batch");
    c.seed = parse_seed(j.at("seed").get<std::string>());
    j.at("dtype").get_to(c.dtype);
    j.at("data_dir").get_to(c.data_dir);
    j.at("train_npy").get_to(c.train_npy);
    j.at("test_npy").get_to(c.test_npy);
    c.limit = get_integer<std::size_t>(j, "limit");
    c.test_limit = get_integer<std::size_t>(j, "test_limit");
}

double default_learning_rate(const std::string& optimizer) {
    if (optimizer == "sgd") return 0.1;
    if (optimizer == "momentum" || optimizer == "nesterov") return 0.01;
    return 1e-3;
}

void resolve_defaults(TrainConfig& c) {
    if (c.lr == 0) c.lr = default_learning_rate(c.optimizer);
    if (c.model == "stacked" && c.layers.empty()) c.layers = {256, c.code};
    if (c.model == "stacked") c.code = c.layers.back();
}

std::string validate(const TrainConfig& c) {
    if (!one_of(c.model, {"autoencoder", "sparse", "denoising", "contractive", "stacked", "pca"}))
        return "unknown model kind '" + c.model + "'";
    try {
        (void)tg::parse_activation(c.encoder);
    } catch (const std::invalid_argument& e) {
        return std::string("--encoder: ") + e.what();
    }
    if (!one_of(c.decoder, {"linear", "sigmoid"})) return "--decoder must be linear or sigmoid, not '" + c.decoder + "'";
    if (!one_of(c.loss, {"mse", "bce"})) return "--loss must be mse or bce, not '" + c.loss + "'";
    if (c.loss == "bce" && c.decoder != "sigmoid")
        return "--loss bce needs --decoder sigmoid (cross-entropy compares probabilities)";
    if (c.code == 0) return "--code must be at least 1";
    if (c.code > kMaxLayerSize) return "--code must be at most " + std::to_string(kMaxLayerSize);
    if (c.weight_decay < 0) return "--weight-decay must not be negative";
    if (!one_of(c.sparsity, {"l1", "kl"})) return "--sparsity must be l1 or kl, not '" + c.sparsity + "'";
    if (c.sparsity_weight < 0) return "--sparsity-weight must not be negative";
    if (!(c.sparsity_rho > 0 && c.sparsity_rho < 1)) return "--sparsity-rho must lie strictly between 0 and 1";
    if (c.model == "sparse" && c.sparsity == "kl" && c.encoder != "sigmoid")
        return "--sparsity kl needs --encoder sigmoid (the penalty treats each code unit's mean as a probability)";
    if (!one_of(c.corruption, {"masking", "gaussian"}))
        return "--corruption must be masking or gaussian, not '" + c.corruption + "'";
    if (c.corruption == "masking" && !(c.corruption_amount >= 0 && c.corruption_amount <= 1))
        return "--corruption-amount is a probability for masking and must lie in [0, 1]";
    if (c.corruption == "gaussian" && !(c.corruption_amount >= 0))
        return "--corruption-amount is a standard deviation for gaussian noise and must not be negative";
    if (!(c.contractive_lambda >= 0)) return "--contractive-lambda must not be negative";
    if (!one_of(c.pca_method, {"eigh", "svd"})) return "--pca-method must be eigh or svd";
    if (c.model == "stacked") {
        if (c.layers.empty()) return "--layers needs at least one size";
        if (std::find(c.layers.begin(), c.layers.end(), std::size_t{0}) != c.layers.end())
            return "--layers: every size must be at least 1";
        if (c.layers.size() > kMaxLayers) return "--layers: at most " + std::to_string(kMaxLayers) + " layers";
        if (*std::max_element(c.layers.begin(), c.layers.end()) > kMaxLayerSize)
            return "--layers: every size must be at most " + std::to_string(kMaxLayerSize);
        if (c.loss != "mse") return "the stacked model supports --loss mse only";
        if (c.weight_decay != 0) return "the stacked model does not support --weight-decay";
    }
    if (!one_of(c.optimizer, {"sgd", "momentum", "nesterov", "rmsprop", "adam"}))
        return "unknown optimizer '" + c.optimizer + "' (expected sgd|momentum|nesterov|rmsprop|adam)";
    if (!(c.lr > 0)) return "--lr must be positive";
    if (!(c.momentum >= 0 && c.momentum < 1)) return "--momentum must lie in [0, 1)";
    if (!(c.beta1 >= 0 && c.beta1 < 1) || !(c.beta2 >= 0 && c.beta2 < 1)) return "--beta1/--beta2 must lie in [0, 1)";
    if (!(c.eps > 0)) return "--eps must be positive";
    if (!(c.rmsprop_rho >= 0 && c.rmsprop_rho < 1)) return "--rmsprop-rho must lie in [0, 1)";
    if (!one_of(c.lr_schedule, {"constant", "cosine"})) return "--lr-schedule must be constant or cosine";
    if (!(c.clip_grad_norm >= 0)) return "--clip-grad-norm must not be negative";
    if (c.epochs < 1) return "--epochs must be at least 1";
    if (c.batch == 0) return "--batch must be at least 1";
    if (!one_of(c.dtype, {"float32", "float64"})) return "--dtype must be float32 or float64";
    if (c.train_npy.empty() != c.test_npy.empty()) return "--train-npy and --test-npy go together";
    return "";
}

// Distinct odd constants keep the three RNG streams (initialisation, shuffling, noise) apart
// even though they all come from one --seed.
std::uint64_t noise_seed(std::uint64_t seed) { return seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull; }
std::uint64_t shuffle_seed(std::uint64_t seed) { return seed * 0xBF58476D1CE4E5B9ull + 0x94D049BB133111EBull; }

}  // namespace train
