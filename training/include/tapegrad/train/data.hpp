#pragma once
// The training and test images: Fashion-MNIST's IDX files as shipped (60000 / 10000), or any
// pair of N x D .npy matrices.
#include <tapegrad/tensor.hpp>
#include <tapegrad/train/config.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace tg::train {

struct Data {
    tg::Matrix<float> train, test;  // rows are examples
    std::vector<std::int32_t> train_labels{}, test_labels{};  // class of each row; empty without labels
    std::size_t classes = 0;                                 // 0 without labels
    std::vector<std::string> notes{};  // conversions made while loading, to tell the user once
    std::size_t image_rows = 0, image_cols = 0;  // 0 when the rows are not square images
    std::string description{};
};

/// Where the data comes from: Fashion-MNIST's IDX files (in `data_dir`, default the Debian
/// package's directory) or a pair of .npy files.
struct DataSource {
    std::string data_dir{};
    std::string train_npy{}, test_npy{};  ///< used instead of IDX when set
    std::string train_labels_npy{}, test_labels_npy{};  ///< their class labels (optional)
    std::size_t limit = 0;            ///< first N training rows only (0: all)
    std::size_t test_limit = 0;       ///< first N test rows only (0: all)
    bool unit_range = false;          ///< values must lie in [0, 1] (a cross-entropy loss)
};

/// The data a run's configuration names (its "training" options), and whether the model's
/// loss needs values in [0, 1].
DataSource data_source(const RunConfig& config);

/// Throws UsageError (a file that does not exist, values that do not fit the loss),
/// tg::io::FormatError / tg::io::IoError (a file that exists but is malformed or unreadable).
Data load_data(const DataSource& source);

}  // namespace tg::train
