#include "cli.hpp"

#include <CLI/CLI.hpp>

namespace train {
namespace {

const char* const kFooter = R"(
Model kinds: autoencoder (one hidden layer), sparse (--sparsity l1|kl), denoising (--corruption),
contractive (--contractive-lambda), stacked (--layers), pca (the linear baseline, same --code).
Every run reports the same measure for comparison: the per-pixel MSE of the clean
reconstruction on the training and the test set.

Output (in --out): checkpoint.json + checkpoint/*.npy (complete or absent), metrics.json,
filters.png, reconstructions.png, loss.png.

Exit codes:
  0    success
  1    unexpected failure (e.g. the output cannot be written)
  2    bad command line: unknown option, invalid value, missing file, resume conflict
  3    corrupt or unreadable data or checkpoint file (the message names it)
  4    the loss became NaN/Inf; the last good checkpoint is kept
  130  interrupted by SIGINT after saving a checkpoint (143 for SIGTERM))";

// CLI11's stock range validators print their bounds as 300-digit numbers; these say it plainly.
CLI::Validator number_check(const char* name, bool (*ok)(double), const std::string& requirement) {
    return CLI::Validator(
        [ok, requirement](std::string& text) -> std::string {
            double v = 0;
            if (!CLI::detail::lexical_cast(text, v)) return "'" + text + "' is not a number";
            return ok(v) ? std::string() : "must be " + requirement + ", got " + text;
        },
        name);
}
const CLI::Validator kPositive = number_check("POSITIVE", [](double v) { return v > 0; }, "positive");
const CLI::Validator kNonNegative = number_check("NONNEGATIVE", [](double v) { return v >= 0; }, "zero or more");
const CLI::Validator kUnit = number_check("IN [0,1]", [](double v) { return v >= 0 && v <= 1; }, "in [0, 1]");
const CLI::Validator kBelowOne = number_check("IN [0,1)", [](double v) { return v >= 0 && v < 1; }, "in [0, 1)");

// Options a resumed run may set without contradicting its checkpoint.
bool changeable_on_resume(const std::string& key) {
    return key == "epochs" || key == "data_dir" || key == "train_npy" || key == "test_npy";
}

}  // namespace

int parse_command_line(int argc, char** argv, CommandLine& cl) {
    TrainConfig& c = cl.config;
    RunOptions& r = cl.run;
    CLI::App app{"Train an autoencoder (or fit the PCA baseline) on Fashion-MNIST or .npy data, with "
                 "checkpoints, exact resume and pictures."};
    app.footer(kFooter);
    app.option_defaults()->always_capture_default();
    std::vector<std::pair<CLI::Option*, std::string>> keyed;
    std::string group;
    auto opt = [&](const std::string& flag, auto& target, const std::string& help, const std::string& key) {
        CLI::Option* o = app.add_option(flag, target, help)->group(group);
        keyed.emplace_back(o, key);
        return o;
    };
    const CLI::Validator& pos = kPositive;
    const CLI::Validator& nonneg = kNonNegative;

    group = "Model";
    opt("--model", c.model, "model kind", "model")
        ->check(CLI::IsMember({"autoencoder", "sparse", "denoising", "contractive", "stacked", "pca"}));
    opt("--encoder", c.encoder, "encoder (hidden) activation", "encoder")
        ->check(CLI::IsMember({"identity", "linear", "sigmoid", "tanh", "relu", "softplus"}));
    opt("--decoder", c.decoder, "decoder output", "decoder")->check(CLI::IsMember({"linear", "sigmoid"}));
    opt("--loss", c.loss, "reconstruction loss (bce needs --decoder sigmoid)", "loss")->check(CLI::IsMember({"mse", "bce"}));
    opt("--code", c.code, "code size (number of hidden units / PCA components)", "code")->check(pos);
    keyed.emplace_back(app.add_flag("--tied,!--untied", c.tied,
                                    "decoder weight is the encoder's transpose (the default), or its own matrix")
                           ->group(group),
                       "tied");
    opt("--layers", c.layers, "stacked: hidden sizes from the input side, e.g. 256,64 (default 256,<code>)", "layers")
        ->delimiter(',')
        ->check(pos);
    opt("--weight-decay", c.weight_decay, "adds this times the squared Frobenius norm of the weights", "weight_decay")->check(nonneg);
    opt("--sparsity", c.sparsity, "sparse: penalty on the code", "sparsity")->check(CLI::IsMember({"l1", "kl"}));
    opt("--sparsity-weight", c.sparsity_weight, "sparse: penalty weight", "sparsity_weight")->check(nonneg);
    opt("--sparsity-rho", c.sparsity_rho, "sparse kl: target mean activation", "sparsity_rho")->check(kUnit);
    opt("--corruption", c.corruption, "denoising: noise kind", "corruption")->check(CLI::IsMember({"masking", "gaussian"}));
    opt("--corruption-amount", c.corruption_amount, "denoising: masking probability, or gaussian sigma", "corruption_amount")
        ->check(nonneg);
    opt("--contractive-lambda", c.contractive_lambda, "contractive: Jacobian penalty weight", "contractive_lambda")->check(nonneg);
    opt("--pca-method", c.pca_method, "pca: eigendecomposition of the covariance, or SVD of the data", "pca_method")
        ->check(CLI::IsMember({"eigh", "svd"}));

    group = "Optimizer";
    opt("--optimizer", c.optimizer, "optimizer", "optimizer")
        ->check(CLI::IsMember({"sgd", "momentum", "nesterov", "rmsprop", "adam"}));
    opt("--lr", c.lr, "learning rate (default: adam/rmsprop 1e-3, sgd 0.1, momentum/nesterov 0.01)", "lr")
        ->check(pos)
        ->default_str("");
    opt("--lr-schedule", c.lr_schedule,
        "constant, or cosine: decays the rate to 0 over all --epochs (a resumed run then needs the same --epochs)",
        "lr_schedule")
        ->check(CLI::IsMember({"constant", "cosine"}));
    opt("--momentum", c.momentum, "momentum/nesterov: momentum", "momentum")->check(kBelowOne);
    opt("--beta1", c.beta1, "adam: first-moment decay", "beta1")->check(kBelowOne);
    opt("--beta2", c.beta2, "adam: second-moment decay", "beta2")->check(kBelowOne);
    opt("--eps", c.eps, "adam/rmsprop: epsilon", "eps")->check(pos);
    opt("--rmsprop-rho", c.rmsprop_rho, "rmsprop: decay of the squared-gradient average", "rmsprop_rho")->check(kBelowOne);
    opt("--clip-grad-norm", c.clip_grad_norm, "rescale gradients to at most this joint L2 norm (0: off)", "clip_grad_norm")
        ->check(nonneg);

    group = "Training";
    opt("--epochs", c.epochs, "epochs in total (a resumed run continues up to this)", "epochs")->check(pos);
    opt("--batch", c.batch, "minibatch size", "batch")->check(pos);
    opt("--seed", c.seed, "seed for initialisation, shuffling and noise", "seed")->check(nonneg);
    opt("--dtype", c.dtype, "floating-point type", "dtype")->check(CLI::IsMember({"float32", "float64"}));
    group = "Data";
    opt("--data-dir", c.data_dir, "directory of the Fashion-MNIST IDX files (default: the Debian package's)", "data_dir");
    opt("--train-npy", c.train_npy, "training data as an N x D float32 .npy file, instead of Fashion-MNIST", "train_npy");
    opt("--test-npy", c.test_npy, "test data as an M x D float32 .npy file (with --train-npy)", "test_npy");
    opt("--limit", c.limit, "use only the first N training rows (0: all)", "limit")->check(nonneg);
    opt("--test-limit", c.test_limit, "use only the first N test rows (0: all)", "test_limit")->check(nonneg);

    group = "Run (may differ when resuming)";
    CLI::Option* out = app.add_option("--out", r.out, "output directory (default with --resume: the resumed directory)")->group(group);
    app.add_option("--resume", r.resume, "continue the run whose output directory this is")->group(group)->check(CLI::ExistingDirectory);
    app.add_option("--threads", r.threads, "OpenBLAS threads")->group(group)->check(CLI::Range(1, 256));
    app.add_option("--checkpoint-every", r.checkpoint_every, "checkpoint every N epochs (0: only at the end)")->group(group)->check(nonneg);
    app.add_flag("--anomaly", r.anomaly, "check every op for NaN/Inf and name the first that produces one (slower)")->group(group);
    app.add_option("--progress", r.progress, "auto: a bar on a terminal, plain lines otherwise")->group(group)
        ->check(CLI::IsMember({"auto", "bar", "lines", "none"}));
    app.add_option("--pictures", r.pictures, "test images in reconstructions.png")->group(group)->check(CLI::Range(1, 64));
    app.add_option("--stop-after-steps", r.stop_after_steps,
                   "testing: send ourselves SIGINT after this many steps, to exercise stop and resume")
        ->group(group)
        ->check(nonneg);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : kExitUsage;
    }
    for (const auto& [option, key] : keyed)
        if (option->count() > 0) cl.explicit_options.emplace_back(option->get_name(), key);
    cl.out_given = out->count() > 0;
    if (!r.resume.empty() && !cl.out_given) r.out = r.resume;
    for (int i = 0; i < argc; ++i) r.command_line += (i ? " " : "") + std::string(argv[i]);
    return -1;
}

void apply_resumed_config(CommandLine& cl, const TrainConfig& saved) {
    const nlohmann::json given = cl.config, stored = saved;
    TrainConfig merged = saved;
    for (const auto& [flag, key] : cl.explicit_options) {
        if (changeable_on_resume(key)) continue;
        // A stacked run's code size is its last layer, however it was spelled.
        if (given.at(key) != stored.at(key) && !(key == "code" && saved.model == "stacked" && saved.code == cl.config.code))
            throw UsageError(flag + " " + given.at(key).dump() + " contradicts the checkpoint's " + stored.at(key).dump() +
                             ": a resumed run keeps its configuration (only --epochs and the data location may change)");
    }
    for (const auto& [flag, key] : cl.explicit_options) {
        if (key == "epochs") merged.epochs = cl.config.epochs;
        if (key == "data_dir") merged.data_dir = cl.config.data_dir;
        if (key == "train_npy") merged.train_npy = cl.config.train_npy;
        if (key == "test_npy") merged.test_npy = cl.config.test_npy;
    }
    cl.config = merged;
}

}  // namespace train
