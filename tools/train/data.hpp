#pragma once
// The training and test images: Fashion-MNIST's IDX files as shipped (60000 / 10000), or any
// pair of N x D .npy matrices.
#include "config.hpp"

#include <tapegrad/tensor.hpp>

#include <string>

namespace train {

struct Data {
    tg::Matrix<float> train, test;  // rows are examples
    std::size_t image_rows = 0, image_cols = 0;  // 0 when the rows are not square images
    std::string description;
};

// Throws UsageError (a file that does not exist, a limit or loss that does not fit the data),
// tg::io::FormatError / tg::io::IoError (a file that exists but is malformed or unreadable).
Data load_data(const TrainConfig& config);

}  // namespace train
