// Every declared option reaches what it names. For each model kind and optimizer of the
// registry, sets of non-default values (written here, by hand) are resolved like a command
// line, built by the registry's factory, and read back from the built object's own fields
// (the accessors below, written independently of the factories): a factory that drops an
// option, or swaps two (--beta1 for --beta2), fails. The sets must cover every option the
// registry declares, so a new option without a check here fails too. Each set also survives
// the configuration's round trip through the JSON a checkpoint stores.
#include <boost/test/unit_test.hpp>

#include <tapegrad/models/all.hpp>
#include <tapegrad/train/config.hpp>
#include <tapegrad/train/data.hpp>
#include <tapegrad/train/registry.hpp>
#include <tapegrad/train/trainer.hpp>

#include <functional>
#include <map>
#include <set>

using namespace tg;
using namespace tg::models;
using nlohmann::json;

namespace {

const char* penalty_name(JacobianPenalty p) {
    return p == JacobianPenalty::exact ? "exact" : p == JacobianPenalty::estimate ? "estimate" : "closed_form";
}
const char* corruption_name(const Corruption& c) {
    return c.kind == Corruption::Kind::gaussian ? "gaussian" : "masking";
}
std::string activation_option(Activation a) { return a == Activation::identity ? "linear" : std::string(name(a)); }

// What a built model holds for option `key`, read from its fields.
json held(Model<double>& m, const std::string& key) {
    Model<double>* base = &m;
    if (auto* c = dynamic_cast<Contractive<double>*>(&m)) {
        if (key == "contractive_lambda") return c->lambda;
        if (key == "contractive_penalty") return penalty_name(c->penalty);
        if (key == "contractive_encoder") return dynamic_cast<StackedAutoencoder<double>*>(c->base.get()) ? "stacked" : "conv";
        base = c->base.get();
    }
    if (auto* c = dynamic_cast<ContractiveAutoencoder<double>*>(base)) {
        if (key == "contractive_lambda") return c->lambda;
        if (key == "contractive_penalty") return penalty_name(c->penalty);
        if (key == "contractive_encoder") return "dense";
    }
    if (auto* s = dynamic_cast<SparseAutoencoder<double>*>(base)) {
        if (key == "sparsity") return s->penalty == SparsityPenalty::kl ? "kl" : "l1";
        if (key == "sparsity_weight") return s->strength;
        if (key == "sparsity_rho") return s->rho;
    }
    if (auto* d = dynamic_cast<DenoisingAutoencoder<double>*>(base)) {
        if (key == "corruption") return corruption_name(d->noise.corruption);
        if (key == "corruption_amount") return d->noise.corruption.amount;
    }
    if (auto* a = dynamic_cast<Autoencoder<double>*>(base)) {
        const AutoencoderConfig& c = a->config;
        if (key == "code") return c.code;
        if (key == "encoder") return activation_option(c.encoder);
        if (key == "decoder") return c.sigmoid_decoder ? "sigmoid" : "linear";
        if (key == "loss") return c.loss == Reconstruction::binary_cross_entropy ? "bce" : "mse";
        if (key == "tied") return c.tied;
        if (key == "weight_decay") return c.weight_decay;
    }
    if (auto* s = dynamic_cast<StackedAutoencoder<double>*>(base)) {
        if (key == "layers") return std::vector<std::size_t>(s->sizes.begin() + 1, s->sizes.end());
        if (key == "encoder") return activation_option(s->hidden);
        if (key == "decoder") return s->sigmoid_decoder ? "sigmoid" : "linear";
        if (key == "tied") return s->tied;
    }
    if (auto* v = dynamic_cast<ConvAutoencoder<double>*>(base)) {
        const ConvAutoencoderConfig& c = v->config;
        if (key == "channels") return c.channels;
        if (key == "kernel") return c.window.kernel_h == c.window.kernel_w ? json(c.window.kernel_h) : json("not square");
        if (key == "stride") return c.window.stride;
        if (key == "padding") return c.window.padding;
        if (key == "code") return c.code;
        if (key == "encoder") return activation_option(c.activation);
        if (key == "decoder") return c.sigmoid_decoder ? "sigmoid" : "linear";
        if (key == "tied") return c.tied;
        if (key == "image_channels") return c.image.channels;
        if (key == "image_height") return c.image.height;
        if (key == "corruption") return c.corruption ? corruption_name(*c.corruption) : "none";
        if (key == "corruption_amount") return c.corruption ? c.corruption->amount : -1.0;
    }
    if (auto* l = dynamic_cast<LinearAutoencoder<double>*>(base)) {
        if (key == "code") return l->config.code;
        if (key == "lambda") return l->config.lambda;
    }
    if (auto* e = dynamic_cast<EnergyAutoencoder<double>*>(base)) {
        if (key == "energy") return e->config.kind == EnergyKind::quadratic ? "quadratic" : "softplus";
        if (key == "layers") return std::vector<std::size_t>(e->config.sizes.begin() + 1, e->config.sizes.end());
        if (key == "sigma") return e->config.sigma;
    }
    if (auto* v = dynamic_cast<VariationalAutoencoder<double>*>(base)) {
        if (key == "code") return v->config.code;
        if (key == "hidden") return v->config.hidden;
        if (key == "encoder") return activation_option(v->config.activation);
        if (key == "likelihood") return v->config.likelihood == Likelihood::gaussian ? "gaussian" : "bernoulli";
    }
    return "no accessor for " + key + " on " + m.describe();
}

// What a built optimizer holds for option `key`.
json held(Optimizer<double>& o, const std::string& key) {
    if (key == "lr") return o.learning_rate;
    if (auto* s = dynamic_cast<SGD<double>*>(&o); s && key == "momentum") return s->momentum;
    if (auto* r = dynamic_cast<RMSProp<double>*>(&o)) {
        if (key == "rmsprop_rho") return r->rho;
        if (key == "eps") return r->eps;
    }
    if (auto* a = dynamic_cast<Adam<double>*>(&o)) {
        if (key == "beta1") return a->beta1;
        if (key == "beta2") return a->beta2;
        if (key == "eps") return a->eps;
    }
    return "no accessor for " + key;
}

// Per kind, sets of options that the kind accepts together; every declared option is
// non-default in one of them. Inputs are rows of 16 values (4 x 4 images, or 2 x 4 of 2 channels).
const std::map<std::string, std::vector<json>>& model_sets() {
    static const std::map<std::string, std::vector<json>> sets{
        {"autoencoder", {{{"code", 5}, {"encoder", "tanh"}, {"decoder", "sigmoid"}, {"loss", "bce"}, {"tied", false}, {"weight_decay", 0.25}}}},
        {"sparse", {{{"code", 6}, {"sparsity", "kl"}, {"sparsity_weight", 0.5}, {"sparsity_rho", 0.2}, {"decoder", "sigmoid"},
                     {"loss", "bce"}, {"tied", false}, {"weight_decay", 0.125}},
                    {{"encoder", "relu"}, {"sparsity_weight", 0.75}}}},
        {"denoising", {{{"code", 7}, {"encoder", "softplus"}, {"decoder", "sigmoid"}, {"loss", "bce"}, {"tied", false},
                        {"weight_decay", 0.5}, {"corruption", "gaussian"}, {"corruption_amount", 0.375}}}},
        {"energy", {{{"energy", "quadratic"}, {"layers", {5, 3}}, {"sigma", 0.625}}}},
        {"contractive", {{{"code", 5}, {"encoder", "tanh"}, {"decoder", "sigmoid"}, {"loss", "bce"}, {"tied", false},
                          {"weight_decay", 0.25}, {"contractive_lambda", 0.75}, {"contractive_penalty", "exact"}},
                         {{"contractive_encoder", "stacked"}, {"layers", {6, 2}}, {"contractive_penalty", "estimate"}},
                         {{"contractive_encoder", "conv"}, {"channels", {3}}, {"kernel", 2}, {"stride", 1}, {"padding", 0},
                          {"image_channels", 2}, {"image_height", 2}, {"contractive_penalty", "exact"}}}},
        {"stacked", {{{"layers", {6, 2}}, {"encoder", "tanh"}, {"decoder", "sigmoid"}, {"tied", false}}}},
        {"conv", {{{"channels", {3}}, {"kernel", 2}, {"stride", 1}, {"padding", 0}, {"code", 5}, {"encoder", "tanh"},
                   {"decoder", "sigmoid"}, {"tied", false}, {"image_channels", 2}, {"image_height", 2},
                   {"corruption", "gaussian"}, {"corruption_amount", 0.125}}}},
        {"linear", {{{"code", 3}, {"lambda", 0.0625}}}},
        {"vae", {{{"code", 3}, {"hidden", 9}, {"encoder", "tanh"}, {"likelihood", "gaussian"}}}},
    };
    return sets;
}

const std::map<std::string, json>& optimizer_sets() {
    static const std::map<std::string, json> sets{
        {"sgd", {{"lr", 0.375}}},
        {"momentum", {{"lr", 0.0625}, {"momentum", 0.625}}},
        {"nesterov", {{"lr", 0.03125}, {"momentum", 0.5}}},
        {"rmsprop", {{"lr", 0.015625}, {"rmsprop_rho", 0.75}, {"eps", 1e-5}}},
        {"adam", {{"lr", 0.0078125}, {"beta1", 0.625}, {"beta2", 0.875}, {"eps", 1e-6}}},
    };
    return sets;
}

// Every declared option is set, to a value other than its default, by some set.
void expect_coverage(const std::string& kind, const std::vector<train::OptionSpec>& specs, const std::vector<json>& sets) {
    for (const train::OptionSpec& spec : specs) {
        bool covered = false;
        for (const json& s : sets) covered = covered || (s.contains(spec.key) && s.at(spec.key) != spec.default_value);
        BOOST_TEST(covered, kind << ": option --" << spec.key << " is set to a non-default value by no set of this test");
    }
}

// The set survives the configuration's round trip through a checkpoint's JSON.
void expect_recorded(const train::RunConfig& config, const json& given, const std::string& section) {
    const train::RunConfig back = train::config_from_json(train::to_json(config), "test");
    const json& stored = section == "model"       ? back.model_options.json()
                         : section == "optimizer" ? back.optimizer_options.json()
                                                  : back.training.json();
    for (const auto& [key, value] : given.items()) BOOST_TEST(stored.at(key) == value, section << " option " << key);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(options_reach)

BOOST_AUTO_TEST_CASE(every_model_option_reaches_the_model) {
    for (const train::ModelKind& kind : train::model_kinds()) {
        if (!kind.trainable() || kind.options.empty()) continue;
        BOOST_TEST_CONTEXT("--model " << kind.name) {
            const auto found = model_sets().find(kind.name);
            BOOST_REQUIRE_MESSAGE(found != model_sets().end(), "no option sets for model kind " << kind.name);
            expect_coverage(kind.name, kind.options, found->second);
            for (const json& set : found->second) {
                BOOST_TEST_CONTEXT(set.dump()) {
                    const train::RunConfig config = train::resolve_config(kind.name, set, "adam", json::object(), json::object());
                    const auto model = train::make_model<double>(kind, config.model_options, 16, 3);
                    for (const auto& [key, value] : set.items()) BOOST_TEST(held(*model, key) == value, "--" << key);
                    expect_recorded(config, set, "model");
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(every_optimizer_option_reaches_the_optimizer) {
    Parameter<double> p("p", Matrix<double>::from_shape({1, 2}));
    for (const train::OptimizerKind& kind : train::optimizer_kinds()) {
        BOOST_TEST_CONTEXT("--optimizer " << kind.name) {
            const auto found = optimizer_sets().find(kind.name);
            BOOST_REQUIRE_MESSAGE(found != optimizer_sets().end(), "no option set for optimizer " << kind.name);
            const json& set = found->second;
            expect_coverage(kind.name, kind.options, {set});
            const train::RunConfig config = train::resolve_config("autoencoder", json::object(), kind.name, set, json::object());
            const auto optimizer = train::make_optimizer<double>(kind, config.optimizer_options, {&p});
            for (const auto& [key, value] : set.items()) BOOST_TEST(held(*optimizer, key) == value, "--" << key);
            // the kinds that share a class differ by what they are
            if (auto* s = dynamic_cast<SGD<double>*>(optimizer.get())) {
                BOOST_TEST(s->nesterov == (kind.name == "nesterov"));
                if (kind.name == "sgd") BOOST_TEST(s->momentum == 0.0);
            }
            expect_recorded(config, set, "optimizer");
        }
    }
}

// The run's own options reach the Trainer (trainer_options) or the data pipeline
// (data_source); dtype picks the instantiation (RunConfig::float64; test_train_paths.cpp's
// float64 run checkpoints float64 arrays). Found this way: --eval-every and --eval-train-rows
// were recorded in the configuration but never reached the Trainer `train` built (the
// binary's check is in test_train_eval.cpp).
BOOST_AUTO_TEST_CASE(every_training_option_reaches_the_trainer_or_the_data) {
    const json set{{"epochs", 7},           {"batch", 33},           {"seed", "12345678901234567890"},
                   {"dtype", "float64"},    {"lr_schedule", "cosine"}, {"clip_grad_norm", 2.5},
                   {"data_dir", "/d"},      {"train_npy", "a.npy"},  {"test_npy", "b.npy"},
                   {"train_labels_npy", "c.npy"}, {"test_labels_npy", "d.npy"},
                   {"limit", 100},          {"test_limit", 50},      {"eval_every", 3},
                   {"eval_train_rows", 500}, {"flush_denormals", false}};
    expect_coverage("training", train::training_options(), {set});
    const train::RunConfig config = train::resolve_config("autoencoder", json::object(), "adam", json::object(), set);
    const train::TrainerOptions o = train::trainer_options(config);
    const train::DataSource d = train::data_source(config);
    const std::map<std::string, json> held{
        {"epochs", o.epochs},
        {"batch", o.batch},
        {"seed", o.seed == train::shuffle_seed(12345678901234567890ull) ? set.at("seed") : json(o.seed)},
        {"dtype", config.float64() ? "float64" : "float32"},
        {"lr_schedule", o.lr_schedule == train::LrSchedule::cosine ? "cosine" : "constant"},
        {"clip_grad_norm", o.clip_grad_norm},
        {"data_dir", d.data_dir},
        {"train_npy", d.train_npy},
        {"test_npy", d.test_npy},
        {"train_labels_npy", d.train_labels_npy},
        {"test_labels_npy", d.test_labels_npy},
        {"limit", d.limit},
        {"test_limit", d.test_limit},
        {"eval_every", o.eval_every},
        {"eval_train_rows", o.eval_train_rows},
        {"flush_denormals", o.flush_denormals}};
    for (const auto& [key, value] : set.items()) {
        const auto h = held.find(key);
        BOOST_REQUIRE_MESSAGE(h != held.end(), "no check for training option --" << key);
        BOOST_TEST(h->second == value, "--" << key);
    }
    BOOST_TEST(o.config == train::to_json(config), "the Trainer keeps the whole configuration for its records");
    expect_recorded(config, set, "training");
}

// The library speaks its own API: its messages and help texts name options by key in backquotes
// (what a C++ or JSON user sets), never by a command-line flag; the tool turns keys into flags.
BOOST_AUTO_TEST_CASE(library_messages_name_options_by_key_and_the_tool_shows_flags) {
    auto message_of = [](const json& model_options, const json& training) {
        try {
            train::resolve_config("autoencoder", model_options, "adam", json::object(), training);
        } catch (const train::UsageError& e) {
            return std::string(e.what());
        }
        return std::string("(accepted)");
    };
    const std::string cross = message_of({{"loss", "bce"}, {"decoder", "linear"}}, json::object());
    BOOST_TEST(cross.find("`loss` bce needs `decoder` sigmoid") != std::string::npos, cross);
    const std::string bound = message_of({{"code", 100000}}, json::object());
    BOOST_TEST(bound.find("`code` must be at most 65536") != std::string::npos, bound);
    for (const std::string& m : {cross, bound}) BOOST_TEST(m.find("--") == std::string::npos, m);
    // Every declared help text and kind summary is free of flags too.
    for (const auto& kind : train::model_kinds()) {
        BOOST_TEST(kind.summary.find("--") == std::string::npos, kind.name << ": " << kind.summary);
        for (const auto& spec : kind.options) BOOST_TEST(spec.help.find("--") == std::string::npos, spec.key << ": " << spec.help);
    }
    for (const auto& spec : train::training_options())
        BOOST_TEST(spec.help.find("--") == std::string::npos, spec.key << ": " << spec.help);
    BOOST_TEST(train::with_flags(cross).find("--loss bce needs --decoder sigmoid") == 0u, train::with_flags(cross));
    BOOST_TEST(train::with_flags("`corruption_amount` and `x1`, not `Mixed` or ``") ==
               "--corruption-amount and --x1, not `Mixed` or ``");
}

BOOST_AUTO_TEST_SUITE_END()
