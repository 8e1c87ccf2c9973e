#include "cases.hpp"

#include "models/all.hpp"

namespace tg::gradcheck_cases {

namespace {
using namespace tg::models;

Case model_case(std::shared_ptr<Model<D>> model, std::shared_ptr<Matrix<D>> x) {
    Case c;
    c.name = model->describe();
    c.family = "model";
    c.parameters = model->parameters();
    c.loss = [model, x](Tape<D>& t) { return model->loss(t, *x); };
    c.keep_alive = std::make_shared<std::pair<std::shared_ptr<Model<D>>, std::shared_ptr<Matrix<D>>>>(model, x);
    return c;
}
}  // namespace

std::vector<Case> model_cases() {
    std::mt19937_64 rng(99);
    auto x = std::make_shared<Matrix<D>>(random_matrix(rng, 4, 6, 0, 1));  // a batch of 4 inputs in [0,1]^6
    // Biases start at zero in the models; move them off zero so their gradients are generic.
    auto perturbed = [&](std::shared_ptr<Model<D>> m) {
        for (Parameter<D>* p : m->parameters())
            for (D& v : p->value) v += 0.1 * std::uniform_real_distribution<double>(-1, 1)(rng);
        return m;
    };
    std::vector<Case> cases;
    auto add = [&](std::shared_ptr<Model<D>> m) { cases.push_back(model_case(perturbed(m), x)); };

    for (bool tied : {true, false}) {
        AutoencoderConfig c{.input = 6, .code = 3, .tied = tied};
        for (Activation a : {Activation::identity, Activation::sigmoid, Activation::tanh, Activation::relu,
                             Activation::softplus}) {
            c.encoder = a;
            add(std::make_shared<Autoencoder<D>>(c));
        }
        AutoencoderConfig bce = c;
        bce.encoder = Activation::sigmoid;
        bce.sigmoid_decoder = true;
        bce.loss = Reconstruction::binary_cross_entropy;
        bce.weight_decay = 0.01;
        add(std::make_shared<Autoencoder<D>>(bce));

        AutoencoderConfig s = c;
        s.encoder = Activation::sigmoid;
        add(std::make_shared<SparseAutoencoder<D>>(s, SparsityPenalty::l1, 0.1));
        add(std::make_shared<SparseAutoencoder<D>>(s, SparsityPenalty::kl, 0.1, 0.1));

        auto denoising = std::make_shared<DenoisingAutoencoder<D>>(s, Corruption{Corruption::Kind::fixed_mask});
        Matrix<D> mask = random_matrix(rng, 4, 6, 0, 1);
        for (D& v : mask) v = v >= 0.25 ? 1 : 0;
        denoising->set_fixed_mask(mask);
        add(denoising);

        for (Activation a : {Activation::sigmoid, Activation::tanh, Activation::softplus, Activation::identity}) {
            AutoencoderConfig k = c;
            k.encoder = a;
            add(std::make_shared<ContractiveAutoencoder<D>>(k, 0.5));
        }
        add(std::make_shared<StackedAutoencoder<D>>(std::vector<std::size_t>{6, 4, 2}, Activation::tanh, tied, true, 11));
    }
    return cases;
}

}  // namespace tg::gradcheck_cases
