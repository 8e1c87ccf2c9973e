// The README's second example: a model that is not in models/ (a two-layer tied tanh
// autoencoder, defined here), trained by the library's Trainer with checkpoints and exact
// resume. Run it twice with the same directory: the second run continues the first.
//   custom_model_example OUT_DIR EPOCHS [TRAINING_ROWS]
#include <tapegrad/train/data.hpp>
#include <tapegrad/train/trainer.hpp>

#include <cstdlib>
#include <random>

using namespace tg;

template <class T>
struct TwoLayerTanh : models::Model<T> {  // x -> tanh(x W1^T + b1) -> tanh(. W2^T + b2) -> back with W2, W1
    std::mt19937_64 rng{1};
    Parameter<T> W1{"W1", models::uniform_matrix<T>(128, 784, 0.08, rng)}, W2{"W2", models::uniform_matrix<T>(32, 128, 0.2, rng)};
    Parameter<T> b1{"b1", models::zeros<T>(1, 128)}, b2{"b2", models::zeros<T>(1, 32)};
    Parameter<T> c1{"c1", models::zeros<T>(1, 128)}, c2{"c2", models::zeros<T>(1, 784)};

    Var<T> reconstruct(Tape<T>& t, const Matrix<T>& x) override {
        Var<T> h = tanh(affine(tanh(affine(t.constant(x), t.parameter(W1), t.parameter(b1))), t.parameter(W2), t.parameter(b2)));
        Var<T> g = tanh(affine(h, t.parameter(W2), t.parameter(c1), Trans::N));  // W2 read again: tied
        return affine(g, t.parameter(W1), t.parameter(c2), Trans::N);            // W1 read again: tied
    }
    Var<T> loss(Tape<T>& t, const models::Batch<T>& b) override { return mse(reconstruct(t, b.x), b.x); }
    std::vector<Parameter<T>*> parameters() override { return {&W1, &W2, &b1, &b2, &c1, &c2}; }
    const Matrix<T>* filters() const override { return &W1.value; }
    std::string describe() const override { return "two-layer tied tanh autoencoder 784-128-32"; }
};

int main(int argc, char** argv) {
    if (argc < 3) return 2;
    train::Data data = train::load_data({.limit = argc > 3 ? std::size_t(std::atol(argv[3])) : 0, .test_limit = 1000});
    TwoLayerTanh<float> model;
    Adam<float> adam(model.parameters(), 1e-3);
    train::Trainer<float> trainer(model, adam, data.train, data.test,
                                  {.epochs = std::atoi(argv[2]), .out = argv[1], .image_rows = 28, .image_cols = 28});
    if (train::has_checkpoint(argv[1])) trainer.resume();  // continues bit for bit where it stopped
    const train::TrainResult result = trainer.fit();
    return result.status == train::TrainResult::Status::completed ? 0 : 1;
}
