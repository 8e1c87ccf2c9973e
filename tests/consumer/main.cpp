// Uses each installed layer once: a zoo model (tapegrad::models), the Trainer with a
// checkpoint (tapegrad::train), a .npy file (tapegrad::io). Exit 0 when the loss fell.
#include <tapegrad/io/npy.hpp>
#include <tapegrad/models/all.hpp>
#include <tapegrad/train/trainer.hpp>

#include <cstdio>
#include <random>

int main(int argc, char** argv) {
    if (argc < 2) return 2;
    std::mt19937_64 rng(3);
    tg::Matrix<float> x = tg::models::uniform_matrix<float>(200, 16, 1.0, rng), test = tg::models::uniform_matrix<float>(20, 16, 1.0, rng);
    tg::io::save_npy<float>(std::string(argv[1]) + "/x.npy", x);
    tg::models::DenoisingAutoencoder<float> model({.input = 16, .code = 4}, {tg::models::Corruption::Kind::gaussian, 0.1, 5});
    tg::Adam<float> adam(model.parameters(), 1e-2);
    tg::train::TrainerOptions options;
    options.epochs = 5;
    options.batch = 20;
    options.out = argv[1];
    options.progress = tg::train::ProgressMode::none;
    const tg::Matrix<float> loaded = tg::io::load_npy<float>(std::string(argv[1]) + "/x.npy");
    tg::train::Trainer<float> trainer(model, adam, loaded, test, options);
    const double before = trainer.reconstruction_mse(x);
    const tg::train::TrainResult r = trainer.fit();
    std::printf("consumer: train MSE %g -> %g, checkpoint: %s\n", before, r.train_mse,
                tg::train::has_checkpoint(argv[1]) ? "yes" : "no");
    return r.train_mse < before && tg::train::has_checkpoint(argv[1]) ? 0 : 1;
}
