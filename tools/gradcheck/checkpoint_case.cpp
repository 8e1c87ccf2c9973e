// gradcheck --checkpoint DIR: the gradients of a trained model, at its trained weights, on a
// batch of its own training data, in float64. Tiny random cases keep every unit in its linear
// range; a trained model on real images has saturated sigmoids, dead relus, near-zero pixels
// and gradients of very different sizes, which is where a wrong backward shows.
#include "cases.hpp"

#include <tapegrad/train/checkpoint.hpp>
#include <tapegrad/train/config.hpp>
#include <tapegrad/train/data.hpp>
#include <tapegrad/train/matrix_utils.hpp>
#include <tapegrad/train/trained_model.hpp>

#include <xtensor/xview.hpp>

#include <numeric>

namespace tg::gradcheck_cases {

Case checkpoint_case(const std::string& dir, std::size_t rows) {
    const nlohmann::json meta = train::read_checkpoint(dir);
    const train::RunConfig config = train::config_from_checkpoint(meta, dir);
    train::Data data = train::load_data(train::data_source(config));
    const std::size_t input = data.train.shape()[1];
    rows = std::min(rows, std::size_t(data.train.shape()[0]));
    std::shared_ptr<models::Model<D>> model = train::load_trained_model<D>(dir, input).model;

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
