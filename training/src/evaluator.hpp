#pragma once
// The Trainer's evaluation (private to the library): the per-pixel MSE of the clean
// reconstruction over a list of rows, in chunks, sharded over the processes of a
// data-parallel run (each takes a slice of the list, then the sums are reduced); and the
// reconstructions drawn at the end.
#include "tapegrad/train/data_parallel.hpp"
#include "tapegrad/train/matrix_utils.hpp"

#include <tapegrad/models/model.hpp>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

namespace tg::train {

template <class T>
class Evaluator {
public:
    explicit Evaluator(Communicator& comm) : comm_(comm) {}

    double mse(models::Model<T>& model, const Matrix<T>& x, std::span<const std::size_t> rows) {
        // 256 rows: a conv model's im2col buffers for 1000 rows (35 MB) fall out of cache and
        // its evaluation took 3.3 s instead of 2.0 s (1 thread, 70,000 rows); dense models do
        // not mind (0.21 s either way).
        constexpr std::size_t chunk = 256;
        const std::size_t d = x.shape()[1];
        const auto [lo, hi] = shard_of(rows.size(), comm_.rank(), comm_.size());  // this rank's rows
        double total = 0;
        for (std::size_t first = lo; first < hi; first += chunk) {
            const std::size_t count = std::min(chunk, hi - first);
            ensure_shape(block_, Shape{count, d});
            for (std::size_t i = 0; i < count; ++i) {
                const T* src = x.data() + rows[first + i] * d;
                std::copy(src, src + d, block_.data() + i * d);
            }
            tape.clear();
            total += sum_squared_difference(model.reconstruct(tape, block_).value(), block_);
        }
        comm_.sum(&total, 1);
        return total / double(rows.size() * d);
    }

    Matrix<T> reconstruction(models::Model<T>& model, const Matrix<T>& x) {
        tape.clear();
        return model.reconstruct(tape, x).value();
    }

    // The rows of reconstructions.png: the originals, for a denoising model their corrupted
    // versions and what it makes of them (what it was trained to do), then the reconstructions.
    std::vector<Matrix<float>> picture_rows(models::Model<T>& model, const Matrix<T>& originals) {
        std::vector<Matrix<float>> rows{converted<float>(originals)};
        std::vector<std::uint64_t> ids(originals.shape()[0]);
        std::iota(ids.begin(), ids.end(), std::uint64_t{0});
        Matrix<T> noisy;
        if (model.corrupt(models::Batch<T>(originals, ids, 0), noisy)) {
            rows.push_back(converted<float>(noisy));
            rows.push_back(converted<float>(reconstruction(model, noisy)));
        }
        rows.push_back(converted<float>(reconstruction(model, originals)));
        return rows;
    }

    Tape<T> tape;

private:
    Communicator& comm_;
    Matrix<T> block_;  // the chunk's rows, reused
};

}  // namespace tg::train
