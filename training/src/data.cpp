#include "tapegrad/train/data.hpp"

#include <tapegrad/io/errors.hpp>
#include <tapegrad/io/idx.hpp>
#include <tapegrad/io/npy.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace tg::train {
namespace {

namespace fs = std::filesystem;

// A missing file is a mistake on the command line (exit 2), not a corrupt file (exit 3), so it
// is caught here, before the loaders would report it as an I/O failure.
void require_file(const std::string& path, const std::string& hint) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) throw UsageError(path + ": no such file" + hint);
}

void require_idx(const std::string& dir, const std::string& base) {
    const fs::path p = fs::path(dir) / base;
    std::error_code ec;
    if (fs::is_regular_file(p.string() + ".gz", ec) || fs::is_regular_file(p, ec)) return;
    throw UsageError(p.string() + "[.gz]: no such file (install the Debian package dataset-fashion-mnist, "
                                  "e.g. with scripts/install-deps.sh, or pass `data_dir` or `train_npy`/`test_npy`)");
}

tg::Matrix<float> first_rows(tg::Matrix<float> m, std::size_t limit) {
    if (limit == 0 || limit >= m.shape()[0]) return m;
    tg::Matrix<float> out = tg::make_matrix<float>(limit, m.shape()[1]);
    std::copy(m.data(), m.data() + limit * m.shape()[1], out.data());
    return out;
}

// Labels of a .npy file of `rows` rows, as class indices.
std::vector<std::int32_t> npy_labels(const std::string& path, std::size_t rows, const std::string& data_path) {
    require_file(path, "");
    const std::vector<std::int64_t> raw = tg::io::load_npy_labels(path);
    if (raw.size() != rows)
        throw tg::io::FormatError(path + ": holds " + std::to_string(raw.size()) + " labels, but " + data_path + " has " +
                                  std::to_string(rows) + " rows; there must be one label per row");
    return std::vector<std::int32_t>(raw.begin(), raw.end());  // load_npy_labels bounds them below 2^31
}

// A .npy data file in float32, converted from float64 or Fortran order if it holds those.
tg::Matrix<float> npy_data(const std::string& path, std::vector<std::string>& notes) {
    require_file(path, "");
    tg::io::NpyConversion conversion;
    tg::Matrix<float> m = tg::io::load_npy_as<float>(path, &conversion);
    if (conversion.converted()) notes.push_back(path + " holds " + conversion.describe() + "; converted to float32, row-major");
    return m;
}

template <class V>
V first(V v, std::size_t limit) {
    if (limit > 0 && limit < v.size()) v.resize(limit);
    return v;
}

void check_values(const tg::Matrix<float>& m, const std::string& path, bool need_unit_range) {
    for (std::size_t i = 0; i < m.size(); ++i) {
        const float v = m.data()[i];
        if (!std::isfinite(v))
            throw tg::io::FormatError(path + ": element " + std::to_string(i) + " is " + std::to_string(v) +
                                      "; the data must be finite");
        if (need_unit_range && (v < 0 || v > 1))
            throw UsageError(path + ": element " + std::to_string(i) + " is " + std::to_string(v) +
                             ", but a cross-entropy loss (`loss` bce) needs targets in [0, 1]");
    }
}

}  // namespace

DataSource data_source(const RunConfig& config) {
    const OptionValues& t = config.training;
    DataSource s;
    s.data_dir = t.text("data_dir");
    s.train_npy = t.text("train_npy");
    s.test_npy = t.text("test_npy");
    s.train_labels_npy = t.text("train_labels_npy");
    s.test_labels_npy = t.text("test_labels_npy");
    s.limit = t.integer("limit");
    s.test_limit = t.integer("test_limit");
    // cross-entropy compares probabilities: a BCE loss and a VAE's Bernoulli decoder
    const nlohmann::json& model = config.model_options.json();
    s.unit_range = model.value("loss", std::string("mse")) == "bce" || model.value("likelihood", std::string()) == "bernoulli";
    return s;
}

Data load_data(const DataSource& c) {
    Data d;
    std::string train_name, test_name;
    if (!c.train_npy.empty()) {
        d.train = npy_data(c.train_npy, d.notes);
        d.test = npy_data(c.test_npy, d.notes);
        if (c.train_labels_npy.empty() != c.test_labels_npy.empty())
            throw UsageError("give both `train_labels_npy` and `test_labels_npy`, or neither");
        if (!c.train_labels_npy.empty()) {
            d.train_labels = npy_labels(c.train_labels_npy, d.train.shape()[0], c.train_npy);
            d.test_labels = npy_labels(c.test_labels_npy, d.test.shape()[0], c.test_npy);
        }
        train_name = c.train_npy;
        test_name = c.test_npy;
        if (d.train.shape()[1] != d.test.shape()[1])
            throw UsageError(c.train_npy + " has " + std::to_string(d.train.shape()[1]) + " columns but " + c.test_npy +
                             " has " + std::to_string(d.test.shape()[1]) + "; they must match");
        if (d.train.shape()[0] == 0 || d.test.shape()[0] == 0)
            throw UsageError("the training and test files must hold at least one row each");
        if (d.train.shape()[1] == 0) throw UsageError("the training and test rows must have at least one column");
        // Square rows are drawn as images; anything else trains fine but gets no pictures.
        const auto side = static_cast<std::size_t>(std::lround(std::sqrt(double(d.train.shape()[1]))));
        if (side * side == d.train.shape()[1]) d.image_rows = d.image_cols = side;
        d.description = c.train_npy + " / " + c.test_npy;
    } else {
        const std::string dir = c.data_dir.empty() ? tg::io::kFashionMnistDir : c.data_dir;
        for (const char* base : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                                 "t10k-labels-idx1-ubyte"})
            require_idx(dir, base);
        tg::io::Dataset train = tg::io::load_fashion_mnist(dir, "train");
        tg::io::Dataset test = tg::io::load_fashion_mnist(dir, "t10k");
        if (train.rows != test.rows || train.cols != test.cols)
            throw tg::io::FormatError(dir + ": training images are " + std::to_string(train.rows) + "x" +
                                      std::to_string(train.cols) + " but test images are " + std::to_string(test.rows) +
                                      "x" + std::to_string(test.cols));
        d.train = std::move(train.images);
        d.test = std::move(test.images);
        d.train_labels.assign(train.labels.begin(), train.labels.end());
        d.test_labels.assign(test.labels.begin(), test.labels.end());
        d.image_rows = train.rows;
        d.image_cols = train.cols;
        train_name = dir + "/train-images";
        test_name = dir + "/t10k-images";
        d.description = "Fashion-MNIST (" + dir + ")";
    }
    check_values(d.train, train_name, c.unit_range);
    check_values(d.test, test_name, c.unit_range);
    d.train = first_rows(std::move(d.train), c.limit);
    d.test = first_rows(std::move(d.test), c.test_limit);
    if (!d.train_labels.empty()) {
        d.train_labels = first(std::move(d.train_labels), c.limit);
        d.test_labels = first(std::move(d.test_labels), c.test_limit);
        // The classes are those the training labels name; a test label beyond them is an error.
        const std::int32_t top = *std::max_element(d.train_labels.begin(), d.train_labels.end());
        d.classes = std::size_t(top) + 1;
        constexpr std::size_t kMaxClasses = 100000;  // the probe's weights are classes x features
        const std::string train_labels = c.train_npy.empty() ? "the training labels" : c.train_labels_npy;
        const std::string test_labels = c.train_npy.empty() ? "the test labels" : c.test_labels_npy;
        if (d.classes > kMaxClasses)
            throw tg::io::FormatError(train_labels + ": label " + std::to_string(top) + " means " +
                                      std::to_string(d.classes) + " classes; at most " + std::to_string(kMaxClasses));
        for (std::size_t i = 0; i < d.test_labels.size(); ++i)
            if (std::size_t(d.test_labels[i]) >= d.classes)
                throw tg::io::FormatError(test_labels + ": label " + std::to_string(d.test_labels[i]) + " at index " +
                                          std::to_string(i) + " is outside 0.." + std::to_string(d.classes - 1) +
                                          " (the classes of the training labels)");
    }
    return d;
}

}  // namespace tg::train
