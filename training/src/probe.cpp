#include "tapegrad/train/probe.hpp"

#include "tapegrad/train/matrix_utils.hpp"
#include "tapegrad/train/options.hpp"

#include <tapegrad/io/npy.hpp>

#include <tapegrad/optim.hpp>
#include <tapegrad/random.hpp>

#include <xtensor/xview.hpp>

#include <fmt/core.h>

#include <chrono>
#include <filesystem>
#include <cmath>
#include <numbers>
#include <stdexcept>

namespace tg::train {

namespace {

void check_labels(const std::vector<std::int32_t>& labels, std::size_t rows, std::size_t classes, const char* which) {
    if (labels.size() != rows)
        throw std::invalid_argument(std::string("linear probe: ") + std::to_string(labels.size()) + " " + which +
                                    " labels for " + std::to_string(rows) + " rows of features");
    for (std::size_t i = 0; i < labels.size(); ++i)
        if (labels[i] < 0 || std::size_t(labels[i]) >= classes)
            throw std::invalid_argument(std::string("linear probe: ") + which + " label " + std::to_string(labels[i]) +
                                        " at row " + std::to_string(i) + " is outside 0.." + std::to_string(classes - 1));
}

// Column means and deviations of the training features, and x standardised with them.
template <class T>
struct Standardiser {
    Matrix<T> mean, scale;
    explicit Standardiser(const Matrix<T>& x) : mean(make_matrix<T>(1, x.shape()[1])), scale(make_matrix<T>(1, x.shape()[1])) {
        const std::size_t n = x.shape()[0], d = x.shape()[1];
        for (std::size_t j = 0; j < d; ++j) {
            double s = 0, ss = 0;
            for (std::size_t i = 0; i < n; ++i) s += x(i, j);
            const double m = s / double(n);
            for (std::size_t i = 0; i < n; ++i) ss += (x(i, j) - m) * (x(i, j) - m);
            const double sd = std::sqrt(ss / double(n));
            mean(0, j) = T(m);
            scale(0, j) = T(sd > 1e-8 ? 1 / sd : 1);
        }
    }
    Matrix<T> operator()(const Matrix<T>& x) const { return (x - mean) * scale; }
};

template <class T>
Matrix<T> labels_column(const std::vector<std::int32_t>& labels) {
    Matrix<T> m = make_matrix<T>(labels.size(), 1);
    for (std::size_t i = 0; i < labels.size(); ++i) m(i, 0) = T(labels[i]);
    return m;
}

// The fraction of rows whose largest logit is their label's.
template <class T>
double accuracy(const Matrix<T>& x, const std::vector<std::int32_t>& labels, Parameter<T>& W, Parameter<T>& b) {
    Tape<T> tape;
    const Matrix<T>& logits = affine(tape.constant(x), tape.parameter(W), tape.parameter(b)).value();
    std::size_t right = 0;
    for (std::size_t i = 0; i < x.shape()[0]; ++i) {
        const T* row = &logits(i, 0);
        right += std::size_t(std::max_element(row, row + logits.shape()[1]) - row) == std::size_t(labels[i]);
    }
    return double(right) / double(x.shape()[0]);
}

template <class T, class F>
Matrix<T> in_chunks(models::Model<T>& model, const Matrix<T>& x, F record) {
    constexpr std::size_t chunk = 1000;
    Tape<T> tape;
    Matrix<T> out;
    for (std::size_t first = 0; first < x.shape()[0]; first += chunk) {
        const std::size_t rows = std::min(chunk, x.shape()[0] - first);
        const Matrix<T> part = xt::view(x, xt::range(first, first + rows), xt::all());
        tape.clear();
        const Matrix<T>& y = record(model, tape, part).value();
        if (first == 0) out = make_matrix<T>(x.shape()[0], y.shape()[1]);
        xt::view(out, xt::range(first, first + rows), xt::all()) = y;
    }
    return out;
}

}  // namespace

template <class T>
ProbeResult linear_probe(const Matrix<T>& train_features, const std::vector<std::int32_t>& train_labels,
                         const Matrix<T>& test_features, const std::vector<std::int32_t>& test_labels,
                         std::size_t classes, const ProbeOptions& options) {
    const auto start = std::chrono::steady_clock::now();
    const std::size_t n = train_features.shape()[0], d = train_features.shape()[1];
    if (n == 0 || classes < 2) throw std::invalid_argument("linear probe: needs training rows and at least two classes");
    if (test_features.shape()[1] != d)
        throw std::invalid_argument("linear probe: test features have " + std::to_string(test_features.shape()[1]) +
                                    " columns, training features " + std::to_string(d));
    check_labels(train_labels, n, classes, "training");
    check_labels(test_labels, test_features.shape()[0], classes, "test");

    const Standardiser<T> standardise(train_features);
    const Matrix<T> train = standardise(train_features), test = standardise(test_features);
    const Matrix<T> labels = labels_column<T>(train_labels);
    Parameter<T> W("W", Matrix<T>(xt::zeros<T>({classes, d}))), b("b", Matrix<T>(xt::zeros<T>({std::size_t(1), classes})));
    Adam<T> adam({&W, &b}, options.learning_rate);

    const std::size_t batch = std::min(options.batch, n), steps = (n + batch - 1) / batch;
    const double total_steps = double(steps) * options.epochs;
    Tape<T> tape;
    Matrix<T> x, y;
    ProbeResult r;
    for (int epoch = 1; epoch <= options.epochs; ++epoch) {
        const std::vector<std::uint64_t> order = tg::random::permutation(n, options.seed, std::uint64_t(epoch));
        double loss_sum = 0;
        for (std::size_t s = 0; s < steps; ++s) {
            const std::size_t first = s * batch, rows = std::min(batch, n - first);
            ensure_shape(x, Shape{rows, d});
            ensure_shape(y, Shape{rows, 1});
            for (std::size_t i = 0; i < rows; ++i) {
                std::copy_n(&train(order[first + i], 0), d, &x(i, 0));
                y(i, 0) = labels(order[first + i], 0);
            }
            const double done = double(epoch - 1) * double(steps) + double(s);
            adam.learning_rate = options.learning_rate * 0.5 * (1 + std::cos(std::numbers::pi * done / total_steps));
            W.zero_grad();
            b.zero_grad();
            tape.clear();
            Var<T> loss = softmax_cross_entropy(affine(tape.constant(x), tape.parameter(W), tape.parameter(b)), y);
            loss_sum += double(loss.value()(0, 0));
            tape.backward(loss);
            adam.step();
        }
        r.train_loss = loss_sum / double(steps);
    }
    r.train_accuracy = accuracy(train, train_labels, W, b);
    r.test_accuracy = accuracy(test, test_labels, W, b);
    r.features = d;
    r.classes = classes;
    r.train_rows = n;
    r.test_rows = test_features.shape()[0];
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return r;
}

template <class T>
Matrix<T> codes_of(models::Model<T>& model, const Matrix<T>& x) {
    return in_chunks(model, x, [](models::Model<T>& m, Tape<T>& t, const Matrix<T>& part) { return m.code(t, part); });
}

template <class T>
Matrix<T> reconstructions_of(models::Model<T>& model, const Matrix<T>& x) {
    return in_chunks(model, x, [](models::Model<T>& m, Tape<T>& t, const Matrix<T>& part) { return m.reconstruct(t, part); });
}

template <class T>
ProbeResult probe_and_report(const Matrix<T>& train_codes, const Matrix<T>& test_codes, const Data& data,
                             const std::string& what, const std::string& out, const ProbeOptions& options) {
    if (data.classes == 0)
        throw UsageError("the linear probe needs class labels: Fashion-MNIST has them; with `train_npy`, give "
                         "`train_labels_npy` and `test_labels_npy`");
    const ProbeResult r =
        linear_probe(train_codes, data.train_labels, test_codes, data.test_labels, data.classes, options);
    fmt::print("probe      {} ({} features, {} classes): test accuracy {:.4f}, train accuracy {:.4f} "
               "(logistic regression, Adam, {} epochs, {:.1f}s)\n",
               what, r.features, r.classes, r.test_accuracy, r.train_accuracy, options.epochs, r.seconds);
    if (!out.empty()) {
        const nlohmann::json j{{"features", what},
                               {"test_accuracy", r.test_accuracy},
                               {"train_accuracy", r.train_accuracy},
                               {"train_loss", r.train_loss},
                               {"dimensions", r.features},
                               {"classes", r.classes},
                               {"train_rows", r.train_rows},
                               {"test_rows", r.test_rows},
                               {"classifier", "multinomial logistic regression on standardised features"},
                               {"optimizer", "adam, cosine decay to 0"},
                               {"learning_rate", options.learning_rate},
                               {"epochs", options.epochs},
                               {"batch", options.batch},
                               {"seconds", r.seconds}};
        const std::string path = (std::filesystem::path(out) / "probe.json").string();
        write_json_file(path, j);
        fmt::print("probe      {}\n", path);
    }
    return r;
}

template <class T>
void export_codes(const std::string& out, const Matrix<T>& train_codes, const Matrix<T>& test_codes,
                  const Matrix<T>* test_reconstructions) {
    const std::filesystem::path dir(out);
    std::vector<std::pair<std::string, const Matrix<T>*>> files{{"codes-train.npy", &train_codes},
                                                               {"codes-test.npy", &test_codes}};
    if (test_reconstructions) files.emplace_back("reconstructions-test.npy", test_reconstructions);
    for (const auto& [name, m] : files) {
        tg::io::save_npy<T>((dir / name).string(), *m);
        fmt::print("array      {} ({} x {})\n", (dir / name).string(), m->shape()[0], m->shape()[1]);
    }
}

#define TG_PROBE_INSTANTIATE(T)                                                                                        \
    template ProbeResult linear_probe<T>(const Matrix<T>&, const std::vector<std::int32_t>&, const Matrix<T>&,      \
                                         const std::vector<std::int32_t>&, std::size_t, const ProbeOptions&);        \
    template Matrix<T> codes_of<T>(models::Model<T>&, const Matrix<T>&);                                             \
    template Matrix<T> reconstructions_of<T>(models::Model<T>&, const Matrix<T>&);                                   \
    template ProbeResult probe_and_report<T>(const Matrix<T>&, const Matrix<T>&, const Data&, const std::string&,     \
                                             const std::string&, const ProbeOptions&);                                \
    template void export_codes<T>(const std::string&, const Matrix<T>&, const Matrix<T>&, const Matrix<T>*);
TG_PROBE_INSTANTIATE(float)
TG_PROBE_INSTANTIATE(double)

}  // namespace tg::train
