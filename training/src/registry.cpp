// The model kinds of the registry (registry.hpp; the optimizers are in optimizer_kinds.cpp).
// Each kind is declared here once; nothing else in the project lists them.
#include "tapegrad/train/registry.hpp"

#include "kind_lookup.hpp"

#include <tapegrad/models/all.hpp>

#include <algorithm>
#include <cmath>

namespace tg::train {
namespace {

using namespace tg::models;

// Turns a generic factory lambda `[]<class T>(...)` into the two typed function pointers of an
// entry (a captureless lambda is default-constructible, so F{} rebuilds it).
template <class F>
void set_model_factories(ModelKind& k, F) {
    k.make_float = [](const OptionValues& o, std::size_t in, std::uint64_t s) { return F{}.template operator()<float>(o, in, s); };
    k.make_double = [](const OptionValues& o, std::size_t in, std::uint64_t s) { return F{}.template operator()<double>(o, in, s); };
}
template <class F>
ModelKind model(std::string name, std::string summary, std::vector<OptionSpec> options, OptionCheck check, F make,
                std::vector<nlohmann::json> gradcheck_variants) {
    ModelKind k;
    k.name = std::move(name);
    k.summary = std::move(summary);
    k.options = std::move(options);
    k.check = check;
    set_model_factories(k, make);
    k.gradcheck_variants = std::move(gradcheck_variants);
    return k;
}
// --encoder accepts every activation, and "linear" for the identity.
std::vector<std::string> encoder_choices() {
    std::vector<std::string> c = tg::activation_names();
    c.push_back("linear");
    return c;
}

constexpr std::size_t kMaxLayerSize = 65536;  // 65,536 units of 784 inputs: 200 MB of float32 weights
constexpr std::size_t kMaxLayers = 64;
// Weights between two hidden layers of a stacked model (1024 x 1024: 4 MB of float32).
constexpr std::size_t kMaxHiddenWeights = std::size_t(1) << 20;

// ---- options that several kinds declare, each written once ------------------------------------
// One help text for every kind: --help shows a key once, whichever kinds declare it.
OptionSpec code_option(std::size_t default_value, std::size_t min = 1) {
    return integer_option("code", default_value,
                          "code size: hidden (vae: latent) units; pca: components kept; conv: dense units after the "
                          "last feature map, 0 keeps that map as the code",
                          min, kMaxLayerSize);
}
OptionSpec encoder_option(std::string default_value) {
    return choice_option("encoder", std::move(default_value), "encoder (hidden) activation", encoder_choices());
}
OptionSpec decoder_option() { return choice_option("decoder", "linear", "decoder output", {"linear", "sigmoid"}); }
OptionSpec tied_option() {
    return flag_option("tied", true, "decoder weight is the encoder's transpose (the default), or its own matrix", "untied");
}

// ---- the one-hidden-layer autoencoder's options, shared by its variants ----------------------
std::vector<OptionSpec> autoencoder_options() {
    return {
        code_option(64),
        encoder_option("sigmoid"),
        decoder_option(),
        choice_option("loss", "mse", "reconstruction loss (bce needs `decoder` sigmoid)", {"mse", "bce"}),
        tied_option(),
        real_option("weight_decay", 0, "adds this times the squared Frobenius norm of the weights", 0),
    };
}

std::string check_autoencoder(const OptionValues& o) {
    if (o.text("loss") == "bce" && o.text("decoder") != "sigmoid")
        return "`loss` bce needs `decoder` sigmoid (cross-entropy compares probabilities)";
    return "";
}

AutoencoderConfig autoencoder_config(const OptionValues& o, std::size_t input, std::uint64_t seed) {
    return {.input = input,
            .code = o.integer("code"),
            .encoder = parse_activation(o.text("encoder")),
            .sigmoid_decoder = o.text("decoder") == "sigmoid",
            .tied = o.flag("tied"),
            .loss = o.text("loss") == "bce" ? Reconstruction::binary_cross_entropy : Reconstruction::mse,
            .weight_decay = o.real("weight_decay"),
            .seed = seed};
}

OptionSpec layers_option(std::vector<std::size_t> defaults) {
    return integer_list_option("layers", std::move(defaults), "stacked/energy: layer sizes from the input side; the last is the code",
                               1, kMaxLayerSize, kMaxLayers);
}

// Each entry of --layers is bounded, but two neighbours make a matrix: bound those too before
// anything is allocated (a checkpoint of a few bytes could ask for 16 GiB).
std::string check_layer_sizes(const OptionValues& o) {
    const std::vector<std::size_t> l = o.integers("layers");
    std::size_t total = 0;
    for (std::size_t i = 0; i + 1 < l.size(); ++i) {
        if (l[i] * l[i + 1] > kMaxHiddenWeights)
            return "`layers`: " + std::to_string(l[i]) + "," + std::to_string(l[i + 1]) + " is a " +
                   std::to_string(l[i] * l[i + 1]) + "-weight matrix; neighbouring sizes may multiply to at most " +
                   std::to_string(kMaxHiddenWeights);
        total += l[i] * l[i + 1];
    }
    if (total > 4 * kMaxHiddenWeights)
        return "`layers`: the hidden layers hold " + std::to_string(total) + " weights; at most " +
               std::to_string(4 * kMaxHiddenWeights);
    return "";
}

// ---- the deep encoders' options and builders, shared by their kinds and the contractive one ----
// The noise options of a kind that trains on corrupted input (optional: "none", the default,
// trains on clean input), the Corruption they name, and their check: models::check_corruption,
// the one check of a corruption's parameters, with the option's flag in its message.
std::vector<OptionSpec> corruption_options(bool optional) {
    std::vector<std::string> kinds{"masking", "gaussian"};
    if (optional) kinds.insert(kinds.begin(), "none");
    return {choice_option("corruption", optional ? "none" : "masking",
                          optional ? "noise to train against (none: clean input)" : "noise to train against", kinds),
            real_option("corruption_amount", 0.25, "masking probability, or gaussian sigma", 0)};
}
std::optional<Corruption> corruption_of(const OptionValues& o, std::uint64_t seed) {
    const std::string& kind = o.text("corruption");
    if (kind == "none") return std::nullopt;
    return Corruption{kind == "gaussian" ? Corruption::Kind::gaussian : Corruption::Kind::masking,
                      o.real("corruption_amount"), noise_seed(seed)};
}
std::string check_corruption_options(const OptionValues& o) {
    try {
        if (const auto c = corruption_of(o, 0)) check_corruption("`corruption` " + o.text("corruption") + " `corruption_amount`", *c);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

std::vector<OptionSpec> conv_options() {
    return {integer_list_option("channels", {16, 32}, "conv: output channels of each strided convolution", 1, 1024, 8),
            integer_option("kernel", 3, "conv: kernel height and width", 1, 15),
            integer_option("stride", 2, "conv: stride of every convolution", 1, 8),
            integer_option("padding", 1, "conv: zero padding on each side (smaller than the kernel)", 0, 14),
            integer_option("image_channels", 1, "conv: channels of the input images (rows are H x W x C, channels last)", 1, 64),
            integer_option("image_height", 0, "conv: image height (0: square images)", 0, 65536)};
}

std::string check_conv(const OptionValues& o) {
    if (o.integer("padding") >= o.integer("kernel")) return "`padding` must be smaller than `kernel`";
    return "";
}

template <class T>
std::unique_ptr<ConvAutoencoder<T>> make_conv(const OptionValues& o, std::size_t in, std::uint64_t seed) {
    const std::size_t channels = o.integer("image_channels"), pixels = in / channels;
    std::size_t height = o.integer("image_height");
    if (height == 0) height = std::size_t(std::llround(std::sqrt(double(pixels))));
    if (in % channels != 0 || height == 0 || pixels % height != 0 || (o.integer("image_height") == 0 && height * height != pixels))
        throw UsageError("conv: rows of " + std::to_string(in) + " values are not " +
                         (o.integer("image_height") ? std::to_string(height) + " pixels high" : std::string("square images")) +
                         " of " + std::to_string(channels) + " channel(s); set `image_height` and `image_channels`");
    ConvAutoencoderConfig c;
    c.image = {height, pixels / height, channels};
    c.channels = o.integers("channels");
    c.window = {o.integer("kernel"), o.integer("kernel"), o.integer("stride"), o.integer("padding")};
    c.code = o.integer("code");
    c.activation = parse_activation(o.text("encoder"));
    c.sigmoid_decoder = o.text("decoder") == "sigmoid";
    c.tied = o.flag("tied");
    if (o.json().contains("corruption")) c.corruption = corruption_of(o, seed);
    c.seed = seed;
    return std::make_unique<ConvAutoencoder<T>>(c);
}

template <class T>
std::unique_ptr<StackedAutoencoder<T>> make_stacked(const OptionValues& o, std::size_t in, std::uint64_t seed) {
    std::vector<std::size_t> sizes{in};
    for (std::size_t s : o.integers("layers")) sizes.push_back(s);
    return std::make_unique<StackedAutoencoder<T>>(sizes, parse_activation(o.text("encoder")), o.flag("tied"),
                                                   o.text("decoder") == "sigmoid", seed);
}

std::vector<ModelKind> make_model_kinds() {
    using nlohmann::json;
    const json small = {{"code", 3}};
    std::vector<ModelKind> kinds;
    kinds.push_back(model(
        "autoencoder", "one hidden layer, tied or untied", autoencoder_options(), check_autoencoder,
        []<class T>(const OptionValues& o, std::size_t in, std::uint64_t seed) -> std::unique_ptr<Model<T>> {
            return std::make_unique<Autoencoder<T>>(autoencoder_config(o, in, seed));
        },
        {small, {{"code", 3}, {"encoder", "sigmoid"}, {"decoder", "sigmoid"}, {"loss", "bce"}, {"weight_decay", 0.01}}}));
    kinds.push_back(model(
        "sparse", "one hidden layer with an L1 or KL penalty on the code",
        autoencoder_options() + std::vector<OptionSpec>{
            choice_option("sparsity", "l1", "sparse: penalty on the code", {"l1", "kl"}),
            real_option("sparsity_weight", 1e-3, "sparse: penalty weight", 0),
            real_option("sparsity_rho", 0.05, "sparse kl: target mean activation", 0, 1)},
        [](const OptionValues& o) -> std::string {
            if (o.text("sparsity") == "kl" && o.text("encoder") != "sigmoid")
                return "`sparsity` kl needs `encoder` sigmoid (the penalty treats each code unit's mean as a probability)";
            if (!(o.real("sparsity_rho") > 0 && o.real("sparsity_rho") < 1)) return "`sparsity_rho` must lie strictly between 0 and 1";
            return check_autoencoder(o);
        },
        []<class T>(const OptionValues& o, std::size_t in, std::uint64_t seed) -> std::unique_ptr<Model<T>> {
            return std::make_unique<SparseAutoencoder<T>>(autoencoder_config(o, in, seed),
                                                          o.text("sparsity") == "kl" ? SparsityPenalty::kl : SparsityPenalty::l1,
                                                          o.real("sparsity_weight"), o.real("sparsity_rho"));
        },
        {{{"code", 3}, {"sparsity_weight", 0.1}}, {{"code", 3}, {"sparsity", "kl"}, {"sparsity_weight", 0.1}, {"sparsity_rho", 0.1}}}));
    kinds.push_back(model(
        "denoising", "one hidden layer trained to undo input noise",
        autoencoder_options() + corruption_options(false),
        [](const OptionValues& o) -> std::string {
            const std::string problem = check_corruption_options(o);
            return problem.empty() ? check_autoencoder(o) : problem;
        },
        []<class T>(const OptionValues& o, std::size_t in, std::uint64_t seed) -> std::unique_ptr<Model<T>> {
            return std::make_unique<DenoisingAutoencoder<T>>(autoencoder_config(o, in, seed), *corruption_of(o, seed));
        },
        {small, {{"code", 3}, {"corruption", "gaussian"}, {"corruption_amount", 0.3}}}));
    kinds.push_back(model(
        "energy", "defined by an energy E(x) alone: reconstruction x - dE/dx, trained by denoising score matching",
        {choice_option("energy", "softplus",
                       "energy: softplus (Vincent 2011; one layer derives the tied sigmoid autoencoder) or quadratic "
                       "(derives the linear tied one)",
                       {"softplus", "quadratic"}),
         layers_option({64}),
         real_option("sigma", 0.3, "energy: the Gaussian noise sigma of denoising score matching", 0)},
        check_layer_sizes,
        []<class T>(const OptionValues& o, std::size_t in, std::uint64_t seed) -> std::unique_ptr<Model<T>> {
            EnergyConfig c{.sizes = {in}, .kind = o.text("energy") == "quadratic" ? EnergyKind::quadratic : EnergyKind::softplus,
                           .sigma = o.real("sigma"), .noise_seed = noise_seed(seed), .seed = seed};
            for (std::size_t s : o.integers("layers")) c.sizes.push_back(s);
            return std::make_unique<EnergyAutoencoder<T>>(c);
        },
        {{{"layers", {3}}}, {{"layers", {4, 2}}}, {{"energy", "quadratic"}, {"layers", {3}}}}));
    kinds.push_back(model(
        "contractive", "a penalty on the encoder's Jacobian; one dense layer, or a stacked or conv encoder",
        autoencoder_options() + std::vector<OptionSpec>{
            real_option("contractive_lambda", 0.1, "contractive: Jacobian penalty weight", 0),
            choice_option("contractive_penalty", "closed_form",
                          "contractive: the penalty's Jacobian from the one-layer closed form, the generic exact "
                          "Jacobian of the encoder, or its random-projection estimate (any encoder)",
                          {"closed_form", "exact", "estimate"}),
            choice_option("contractive_encoder", "dense",
                          "contractive: one dense layer (`code`), a stacked encoder (`layers`) or a conv one (`channels` ...)",
                          {"dense", "stacked", "conv"}),
            layers_option({256, 64})} + conv_options(),
        [](const OptionValues& o) -> std::string {
            const std::string encoder = o.text("contractive_encoder");
            if (encoder != "dense" && o.text("contractive_penalty") == "closed_form")
                return "`contractive_encoder` " + encoder + " takes `contractive_penalty` exact or estimate "
                       "(the closed form is the one-layer encoder's)";
            if (encoder != "dense" && (o.text("loss") != "mse" || o.real("weight_decay") != 0))
                return "`contractive_encoder` " + encoder + " trains on squared error without weight decay "
                       "(`loss` bce and `weight_decay` are the dense encoder's)";
            if (encoder == "conv") return check_conv(o);
            if (encoder == "stacked") return check_layer_sizes(o);
            return check_autoencoder(o);
        },
        []<class T>(const OptionValues& o, std::size_t in, std::uint64_t seed) -> std::unique_ptr<Model<T>> {
            const std::string how = o.text("contractive_penalty"), encoder = o.text("contractive_encoder");
            const JacobianPenalty penalty =
                how == "exact" ? JacobianPenalty::exact : how == "estimate" ? JacobianPenalty::estimate : JacobianPenalty::closed_form;
            const double lambda = o.real("contractive_lambda");
            const std::uint64_t projection_seed = noise_seed(seed) + 1;
            if (encoder == "stacked")
                return std::make_unique<Contractive<T>>(make_stacked<T>(o, in, seed), o.integers("layers").back(), lambda,
                                                        penalty, projection_seed);
            if (encoder == "conv") {
                std::unique_ptr<ConvAutoencoder<T>> conv = make_conv<T>(o, in, seed);
                const std::size_t units = conv->config.code > 0 ? conv->config.code : conv->maps.back().size();
                return std::make_unique<Contractive<T>>(std::move(conv), units, lambda, penalty, projection_seed);
            }
            return std::make_unique<ContractiveAutoencoder<T>>(autoencoder_config(o, in, seed), lambda, penalty, projection_seed);
        },
        {{{"code", 3}, {"contractive_lambda", 0.5}},
         {{"code", 3}, {"contractive_lambda", 0.5}, {"contractive_penalty", "exact"}},
         {{"code", 3}, {"contractive_lambda", 0.5}, {"contractive_penalty", "estimate"}},
         {{"contractive_encoder", "stacked"}, {"layers", {4, 2}}, {"contractive_lambda", 0.5}, {"contractive_penalty", "exact"}},
         {{"contractive_encoder", "stacked"}, {"layers", {4, 2}}, {"contractive_lambda", 0.5}, {"contractive_penalty", "estimate"}},
         {{"contractive_encoder", "conv"}, {"channels", {2}}, {"code", 3}, {"contractive_lambda", 0.5}, {"contractive_penalty", "exact"}}}));
    kinds.push_back(model(
        "stacked", "mirrored deep autoencoder (`layers`)",
        {layers_option({256, 64}),
         encoder_option("sigmoid"), decoder_option(), tied_option()},
        check_layer_sizes,
        []<class T>(const OptionValues& o, std::size_t in, std::uint64_t seed) -> std::unique_ptr<Model<T>> {
            return make_stacked<T>(o, in, seed);
        },
        {{{"layers", {4, 2}}, {"decoder", "sigmoid"}}}));
    kinds.push_back(model(
        "conv", "convolutional: strided convolutions, a dense code, transposed convolutions (tied: the same kernels)",
        conv_options() + std::vector<OptionSpec>{
            code_option(64, 0),
            encoder_option("relu"), decoder_option(), tied_option()} +
            corruption_options(true),
        [](const OptionValues& o) -> std::string {
            const std::string problem = check_corruption_options(o);
            return problem.empty() ? check_conv(o) : problem;
        },
        []<class T>(const OptionValues& o, std::size_t in, std::uint64_t seed) -> std::unique_ptr<Model<T>> {
            return make_conv<T>(o, in, seed);
        },
        // On 4x4 images: stride 2 with a dense code; two layers down to 1x1 with the map as the
        // code and a sigmoid decoder; 2x2 images of 4 channels through a 2x2 kernel.
        {{{"channels", {2}}, {"code", 3}},
         {{"channels", {2, 3}}, {"code", 0}, {"decoder", "sigmoid"}},
         {{"channels", {3}}, {"kernel", 2}, {"stride", 1}, {"padding", 0}, {"image_channels", 4}, {"code", 2},
          {"corruption", "gaussian"}, {"corruption_amount", 0.1}}}));
    kinds.push_back(model(
        "vae", "variational autoencoder: a Gaussian code drawn by the reparameterisation trick, trained on the ELBO",
        {code_option(16),
         integer_option("hidden", 256, "vae: hidden units of the encoder and of the decoder", 1, kMaxLayerSize),
         encoder_option("relu"),
         choice_option("likelihood", "bernoulli",
                       "vae: the decoder's p(x|z): bernoulli (cross-entropy on logits; data in [0, 1]) or gaussian "
                       "(unit variance: half the squared error)",
                       {"bernoulli", "gaussian"})},
        nullptr,
        []<class T>(const OptionValues& o, std::size_t in, std::uint64_t seed) -> std::unique_ptr<Model<T>> {
            return std::make_unique<VariationalAutoencoder<T>>(VaeConfig{
                .input = in, .hidden = o.integer("hidden"), .code = o.integer("code"),
                .activation = parse_activation(o.text("encoder")),
                .likelihood = o.text("likelihood") == "gaussian" ? Likelihood::gaussian : Likelihood::bernoulli,
                .noise_seed = noise_seed(seed), .seed = seed});
        },
        {{{"code", 2}, {"hidden", 3}}, {{"code", 2}, {"hidden", 3}, {"likelihood", "gaussian"}}}));
    kinds.push_back(model(
        "linear", "Kunin et al.'s linear autoencoder, no biases, \"sum\" L2 penalty (docs/studies.md)",
        {code_option(64),
         real_option("lambda", 0, "linear: weight of the sum of both weights' squared norms", 0)},
        nullptr,
        []<class T>(const OptionValues& o, std::size_t in, std::uint64_t seed) -> std::unique_ptr<Model<T>> {
            return std::make_unique<LinearAutoencoder<T>>(
                LinearAutoencoderConfig{.input = in, .code = o.integer("code"), .lambda = o.real("lambda"), .seed = seed});
        },
        {{{"code", 3}, {"lambda", 0.01}}}));
    ModelKind pca;
    pca.name = "pca";
    pca.summary = "the linear baseline: principal components, fitted in closed form";
    pca.options = {code_option(64),
                   choice_option("pca_method", "eigh", "pca: eigendecomposition of the covariance, or SVD of the data",
                                 {"eigh", "svd"})};
    kinds.push_back(pca);
    ModelKind pixels;
    pixels.name = "pixels";
    pixels.summary = "no model: the raw input is the code (the linear probe's baseline)";
    kinds.push_back(pixels);
    return kinds;
}

}  // namespace

const std::vector<ModelKind>& model_kinds() {
    static const std::vector<ModelKind> kinds = make_model_kinds();
    return kinds;
}
const ModelKind& model_kind(const std::string& name) { return detail::find(model_kinds(), name, "model kind"); }
std::vector<std::string> model_kind_names() { return detail::names(model_kinds()); }

template <class T>
std::unique_ptr<models::Model<T>> make_model(const ModelKind& kind, const OptionValues& options, std::size_t input,
                                             std::uint64_t seed) {
    if (!kind.trainable()) throw UsageError("model kind '" + kind.name + "' is not trained by gradient descent");
    try {
        return kind.factory<T>()(options, input, seed);
    } catch (const std::invalid_argument& e) {  // the models check their own settings
        throw UsageError(e.what());
    }
}

// Distinct odd constants keep the three streams (initialisation, shuffling, noise) apart even
// though they all come from one --seed.
std::uint64_t noise_seed(std::uint64_t seed) { return seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull; }
std::uint64_t shuffle_seed(std::uint64_t seed) { return seed * 0xBF58476D1CE4E5B9ull + 0x94D049BB133111EBull; }

template std::unique_ptr<models::Model<float>> make_model<float>(const ModelKind&, const OptionValues&, std::size_t, std::uint64_t);
template std::unique_ptr<models::Model<double>> make_model<double>(const ModelKind&, const OptionValues&, std::size_t, std::uint64_t);

}  // namespace tg::train
