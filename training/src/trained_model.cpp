// load_trained_model (trained_model.hpp).
#include "tapegrad/train/trained_model.hpp"

#include <tapegrad/train/checkpoint.hpp>
#include <tapegrad/train/registry.hpp>

namespace tg::train {

namespace {

// The checkpoint's arrays read in the type they were written in (S), copied into `target`.
template <class S, class T>
void restore_widened(const std::string& dir, const TrainedModel<T>& run, std::size_t input) {
    std::unique_ptr<models::Model<S>> stored =
        make_model<S>(run.config.model_kind(), run.config.model_options, input, run.config.training.seed("seed"));
    restore_parameters<S>(dir, run.checkpoint, stored->parameters());
    const auto from = stored->parameters();
    const auto to = run.model->parameters();
    for (std::size_t k = 0; k < to.size(); ++k) to[k]->value = xt::cast<T>(from[k]->value);
}

}  // namespace

template <class T>
TrainedModel<T> load_trained_model(const std::string& dir, std::size_t input) {
    TrainedModel<T> run;
    run.checkpoint = read_checkpoint(dir);
    run.config = config_from_checkpoint(run.checkpoint, dir);
    if (!run.config.model_kind().trainable())
        throw UsageError(dir + ": a " + run.config.model + " run has no trained model to load");
    run.model = make_model<T>(run.config.model_kind(), run.config.model_options, input, run.config.training.seed("seed"));
    if (run.config.training.text("dtype") == "float64")
        restore_widened<double>(dir, run, input);
    else
        restore_widened<float>(dir, run, input);
    return run;
}

template TrainedModel<float> load_trained_model<float>(const std::string&, std::size_t);
template TrainedModel<double> load_trained_model<double>(const std::string&, std::size_t);

}  // namespace tg::train
