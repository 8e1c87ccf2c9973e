// gradcheck --checkpoint DIR: the gradients of a trained model, at its trained weights, on a
// batch of its own training data, in float64. Tiny random cases keep every unit in its linear
// range; a trained model on real images has saturated sigmoids, dead relus, near-zero pixels
// and gradients of very different sizes, which is where a wrong backward shows.
#include "cases.hpp"

#include <tapegrad/train/checkpoint.hpp>
#include <tapegrad/train/config.hpp>
#include <tapegrad/train/data.hpp>
#include <tapegrad/train/matrix_utils.hpp>

#include <xtensor/xview.hpp>

#include <numeric>

namespace tg::gradcheck_cases {

namespace {

// The checkpoint's parameters, read in the type it was trained in, as float64 values.
template <class T>
void load_trained_weights(const std::string& dir, const nlohmann::json& meta, const train::RunConfig& config,
                          std::size_t input, models::Model<D>& target) {
    auto model = train::make_model<T>(config.model_kind(), config.model_options, input, config.training.seed("seed"));
    auto optimizer = train::make_optimizer<T>(config.optimizer_kind(), config.optimizer_options, model->parameters());
    train::restore_checkpoint<T>(dir, meta, model->parameters(), *optimizer);
    const auto from = model->parameters();
    const auto to = target.parameters();
    for (std::size_t k = 0; k < to.size(); ++k) to[k]->value = xt::cast<D>(from[k]->value);
}

}  // namespace

Case checkpoint_case(const std::string& dir, std::size_t rows) {
    const nlohmann::json meta = train::read_checkpoint(dir);
    const train::RunConfig config = train::config_from_checkpoint(meta, dir);
    if (!config.model_kind().trainable())
        throw train::UsageError(dir + ": a " + config.model + " run has no gradients to check");
    train::Data data = train::load_data(train::data_source(config));
    const std::size_t input = data.train.shape()[1];
    rows = std::min(rows, std::size_t(data.train.shape()[0]));

    std::shared_ptr<models::Model<D>> model =
        train::make_model<D>(config.model_kind(), config.model_options, input, config.training.seed("seed"));
    if (config.training.text("dtype") == "float64")
        load_trained_weights<D>(dir, meta, config, input, *model);
    else
        load_trained_weights<float>(dir, meta, config, input, *model);

    // The first `rows` training images, as samples 0..rows-1 of the epoch the checkpoint is in
    // (a denoising model corrupts them as it would in that epoch, the same way every evaluation).
    struct Held {
        std::shared_ptr<models::Model<D>> model;
        Matrix<D> x;
        std::vector<std::uint64_t> ids;
        std::uint64_t epoch;
    };
    auto held = std::make_shared<Held>(Held{model, xt::cast<D>(xt::view(data.train, xt::range(0, rows), xt::all())),
                                            std::vector<std::uint64_t>(rows), meta.value("epochs_done", 0ull)});
    std::iota(held->ids.begin(), held->ids.end(), std::uint64_t(0));

    Case c;
    c.name = "checkpoint " + dir + ": " + config.model + " on " + std::to_string(rows) + " training rows";
    c.family = "checkpoint";
    c.higher_order = false;  // first order on the trained weights (gradients of gradients: the op and model cases)
    c.f64.parameters = model->parameters();
    c.f64.loss = [held](Tape<D>& t) { return held->model->loss(t, models::Batch<D>(held->x, held->ids, held->epoch)); };
    c.f64.keep_alive = held;
    return c;  // no float32 instance: the trained weights are compared with finite differences only
}

}  // namespace tg::gradcheck_cases
