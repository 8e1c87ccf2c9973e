#pragma once
// Which rows the Trainer's per-epoch evaluation reads (TrainerOptions::eval_train_rows).
#include <cstddef>
#include <numeric>
#include <vector>

namespace tg::train {

/// The training rows a train MSE of `count` rows is computed on: `count` rows spread evenly over
/// the n rows of the set (row floor(i n / count) for i < count: about every (n/count)-th, the
/// first included), in increasing order; every row when count is 0 or at least n. A function of
/// (n, count) alone, the same for every seed, epoch, thread and process count, so the train MSEs
/// of different epochs and runs are comparable.
inline std::vector<std::size_t> evaluation_rows(std::size_t n, std::size_t count) {
    std::vector<std::size_t> rows(count == 0 || count >= n ? n : count);
    if (rows.size() == n) {
        std::iota(rows.begin(), rows.end(), std::size_t{0});
    } else {
        // i n < 2^64 for every data set that fits in memory (n, count < 2^32).
        for (std::size_t i = 0; i < rows.size(); ++i) rows[i] = i * n / count;
    }
    return rows;
}

}  // namespace tg::train
