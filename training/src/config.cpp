#include "tapegrad/train/config.hpp"

#include "tapegrad/train/checkpoint.hpp"
#include "tapegrad/train/trainer.hpp"

#include <filesystem>

namespace tg::train {

const std::vector<OptionSpec>& training_options() {
    static const std::vector<OptionSpec> specs =
        in_group("Training",
                 {integer_option("epochs", 10, "epochs in total (a resumed run continues up to this)", 1, 1u << 30)
                      .may_change_on_resume(),
                  integer_option("batch", 64, "minibatch size", 1, std::size_t(1) << 32),
                  seed_option("seed", 1, "seed for initialisation, shuffling and noise"),
                  choice_option("dtype", "float32", "floating-point type", {"float32", "float64"}),
                  choice_option("lr_schedule", "constant",
                                "constant, or cosine: decays the rate to 0 over all `epochs` (a resumed run then needs "
                                "the same `epochs`)",
                                {"constant", "cosine"}),
                  real_option("clip_grad_norm", 0, "rescale gradients to at most this joint L2 norm (0: off)", 0),
                  flag_option("flush_denormals", TrainerOptions{}.flush_denormals,
                              "flush denormal floats to zero while training (on Intel cores each operation on one "
                              "costs ~100 cycles); off: IEEE gradual underflow")}) +
        // Where the data is may change on resume (a moved directory), which rows are used not.
        in_group("Data",
                 {text_option("data_dir", "", "directory of the Fashion-MNIST IDX files (default: the Debian package's)")
                      .may_change_on_resume(),
                  text_option("train_npy", "",
                              "training data as an N x D .npy file (float32 or float64, C or Fortran order), instead of "
                              "Fashion-MNIST")
                      .may_change_on_resume(),
                  text_option("test_npy", "", "test data as an M x D .npy file, as `train_npy` (with `train_npy`)")
                      .may_change_on_resume(),
                  text_option("train_labels_npy", "", "class labels of `train_npy`'s rows (an integer .npy; for the linear probe)")
                      .may_change_on_resume(),
                  text_option("test_labels_npy", "", "class labels of `test_npy`'s rows (an integer .npy; for the linear probe)")
                      .may_change_on_resume(),
                  integer_option("limit", 0, "use only the first N training rows (0: all)"),
                  integer_option("test_limit", 0, "use only the first N test rows (0: all)")}) +
        // Evaluation reads the model only: any value trains the same bits.
        in_group("Evaluation (may differ when resuming)",
                 {integer_option("eval_every", 1,
                                 "compute the train and test MSE after every N-th epoch (always after the last, and at "
                                 "a stop)",
                                 1, 1u << 30)
                      .may_change_on_resume(),
                  integer_option("eval_train_rows", TrainerOptions{}.eval_train_rows,
                                 "the train MSE over N training rows spread evenly over the set, the same every epoch "
                                 "(0: all rows); the test MSE always uses every test row",
                                 0, std::size_t(1) << 32)
                      .may_change_on_resume()});
    return specs;
}

RunConfig resolve_config(const std::string& model, const nlohmann::json& model_options, const std::string& optimizer,
                         const nlohmann::json& optimizer_options, const nlohmann::json& training, const std::string& where) {
    RunConfig c;
    c.model = model;
    c.optimizer = optimizer;
    const ModelKind& mk = c.model_kind();
    const OptimizerKind& ok = c.optimizer_kind();
    c.model_options = OptionValues(resolve_options(mk.options, model_options, where));
    c.optimizer_options = OptionValues(resolve_options(ok.options, optimizer_options, where));
    c.training = OptionValues(resolve_options(training_options(), training, where));
    if (mk.check)
        if (const std::string problem = mk.check(c.model_options); !problem.empty()) throw UsageError(where + problem);
    if (c.training.text("train_npy").empty() != c.training.text("test_npy").empty())
        throw UsageError(where + "`train_npy` and `test_npy` go together");
    return c;
}

TrainerOptions trainer_options(const RunConfig& c) {
    const OptionValues& t = c.training;
    TrainerOptions o;
    o.epochs = int(t.integer("epochs"));
    o.batch = t.integer("batch");
    o.seed = shuffle_seed(t.seed("seed"));
    o.lr_schedule = t.text("lr_schedule") == "cosine" ? LrSchedule::cosine : LrSchedule::constant;
    o.clip_grad_norm = t.real("clip_grad_norm");
    o.flush_denormals = t.flag("flush_denormals");
    o.eval_every = int(t.integer("eval_every"));
    o.eval_train_rows = t.integer("eval_train_rows");
    o.config = to_json(c);
    o.title = c.model;
    o.summary = c.optimizer + ", seed " + std::to_string(t.seed("seed"));
    return o;
}

nlohmann::json to_json(const RunConfig& c) {
    return {{"model", c.model},
            {"model_options", c.model_options.json()},
            {"optimizer", c.optimizer},
            {"optimizer_options", c.optimizer_options.json()},
            {"training", c.training.json()}};
}

RunConfig config_from_json(const nlohmann::json& j, const std::string& where) {
    if (!j.is_object()) throw tg::io::FormatError(where + "\"config\" must be an object");
    for (const char* key : {"model", "model_options", "optimizer", "optimizer_options", "training"})
        if (!j.contains(key)) throw tg::io::FormatError(where + "\"config\" has no \"" + key + "\"");
    if (!j.at("model").is_string() || !j.at("optimizer").is_string())
        throw tg::io::FormatError(where + "\"model\" and \"optimizer\" must be strings");
    return resolve_config(j.at("model").get<std::string>(), j.at("model_options"), j.at("optimizer").get<std::string>(),
                          j.at("optimizer_options"), j.at("training"), where);
}

RunConfig config_from_checkpoint(const nlohmann::json& checkpoint, const std::string& dir) {
    const std::string where = (std::filesystem::path(dir) / kCheckpointFile).string() + ": ";
    if (!checkpoint.is_object() || !checkpoint.contains("config"))
        throw tg::io::FormatError(where + "has no \"config\" (the run's configuration)");
    return config_from_json(checkpoint.at("config"), where);
}

}  // namespace tg::train
