// Every model kind of the registry, in every variant its entry lists, with every encoder
// activation and tied and untied where the kind has those options: the "every model" list is
// derived from the registry, so a new kind is checked without touching this file.
#include "cases.hpp"

#include <tapegrad/train/registry.hpp>

namespace tg::gradcheck_cases {

namespace {
using namespace tg::models;

// One precision's recording of a model's loss on the batch x.
template <class T>
Instance<T> model_instance(std::shared_ptr<Model<T>> model, std::shared_ptr<Matrix<T>> x) {
    Instance<T> in;
    in.parameters = model->parameters();
    in.loss = [model, x](Tape<T>& t) { return model->loss(t, *x); };
    in.keep_alive = std::make_shared<std::pair<std::shared_ptr<Model<T>>, std::shared_ptr<Matrix<T>>>>(model, x);
    return in;
}

bool declares(const train::ModelKind& kind, const std::string& key) {
    return std::any_of(kind.options.begin(), kind.options.end(), [&](const train::OptionSpec& s) { return s.key == key; });
}

// The variant's option sets: itself, times every encoder activation and both tyings.
std::vector<nlohmann::json> expand(const train::ModelKind& kind, const nlohmann::json& variant) {
    std::vector<nlohmann::json> out{variant};
    if (declares(kind, "encoder")) {
        std::vector<nlohmann::json> next;
        for (const std::string& a : tg::activation_names())
            for (nlohmann::json v : out) {
                v["encoder"] = a;
                next.push_back(v);
            }
        out = next;
    }
    if (declares(kind, "tied")) {
        std::vector<nlohmann::json> next;
        for (bool tied : {true, false})
            for (nlohmann::json v : out) {
                v["tied"] = tied;
                next.push_back(v);
            }
        out = next;
    }
    return out;
}
}  // namespace

std::vector<Case> model_cases() {
    std::mt19937_64 rng(99);
    // A batch of 4 inputs in [0,1]^16 (4x4 images for the convolutional kinds).
    auto x = std::make_shared<Matrix<D>>(random_matrix(rng, 4, 16, 0, 1));
    auto x32 = std::make_shared<Matrix<float>>(xt::cast<float>(*x));
    std::vector<Case> cases;
    for (const train::ModelKind& kind : train::model_kinds()) {
        if (!kind.trainable()) continue;
        for (const nlohmann::json& variant : kind.gradcheck_variants)
            for (const nlohmann::json& options : expand(kind, variant)) {
                const train::OptionValues values(train::resolve_options(kind.options, options, kind.name + ": "));
                if (kind.check && !kind.check(values).empty()) continue;  // a combination the kind refuses
                std::shared_ptr<Model<D>> model = train::make_model<D>(kind, values, 16, 11);
                std::shared_ptr<Model<float>> model32 = train::make_model<float>(kind, values, 16, 11);
                // Biases start at zero in the models; move them off zero so their gradients are
                // generic. Values are rounded to float, and float32's model gets the same ones.
                const auto p64 = model->parameters();
                const auto p32 = model32->parameters();
                for (std::size_t k = 0; k < p64.size(); ++k) {
                    for (D& v : p64[k]->value) v = double(float(v + 0.1 * std::uniform_real_distribution<double>(-1, 1)(rng)));
                    p32[k]->value = xt::cast<float>(p64[k]->value);
                }
                Case c;
                c.name = kind.name + " " + options.dump();
                c.family = "model";
                c.f64 = model_instance<D>(model, x);
                c.f32 = model_instance<float>(model32, x32);
                cases.push_back(std::move(c));
            }
    }
    return cases;
}

}  // namespace tg::gradcheck_cases
