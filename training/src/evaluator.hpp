#pragma once
// The Trainer's evaluation (private to the library): the per-pixel MSE of the clean
// reconstruction over a list of rows, in chunks, sharded over the processes of a
// data-parallel run (each takes a slice of the list, then the sums are reduced); and the
// reconstructions drawn at the end.
#include "tapegrad/train/data_parallel.hpp"
#include "tapegrad/train/matrix_utils.hpp"

#include <tapegrad/models/model.hpp>
#include <tapegrad/random.hpp>

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
        double total = 0;
        each_chunk(x, rows, [&](std::size_t) { total += sum_squared_difference(model.reconstruct(tape, block_).value(), block_); });
        comm_.sum(&total, 1);
        return total / double(rows.size() * x.shape()[1]);
    }

    /// Each of the model's loss terms (Model::loss_terms) as a mean over the rows, any noise
    /// keyed by the row indices and `epoch` (so the same rows give the same values anywhere).
    std::vector<double> loss_terms(models::Model<T>& model, const Matrix<T>& x, std::span<const std::size_t> rows,
                                   std::uint64_t epoch) {
        std::vector<double> totals(model.loss_term_names().size(), 0.0);
        if (totals.empty()) return totals;
        terms_.resize(totals.size());
        each_chunk(x, rows, [&](std::size_t first) {
            ids_.assign(rows.begin() + std::ptrdiff_t(first), rows.begin() + std::ptrdiff_t(first + block_.shape()[0]));
            model.loss_terms(tape, models::Batch<T>(block_, ids_, epoch), terms_);
            for (std::size_t k = 0; k < totals.size(); ++k) totals[k] += double(terms_[k].value()(0, 0)) * double(block_.shape()[0]);
        });
        comm_.sum(totals.data(), totals.size());
        for (double& v : totals) v /= double(rows.size());
        return totals;
    }

    /// A generative model's decoded draws from the prior N(0, I): `count` codes from the
    /// counter-based generator (key 0: the same draws for every run of a model).
    Matrix<T> prior_samples(models::Model<T>& model, std::size_t count) {
        ids_.resize(count);
        std::iota(ids_.begin(), ids_.end(), std::uint64_t{0});
        Matrix<T> z;
        random::standard_normal_rows<T>(ids_, 0, 0, model.latent_size(), z);
        return decoded(model, z);
    }

    /// A 2-unit code's decoded grid: codes on a side x side lattice over [-2, 2]^2 (two prior
    /// standard deviations), row by row.
    Matrix<T> latent_grid(models::Model<T>& model, std::size_t side) {
        Matrix<T> z = Matrix<T>::from_shape({side * side, 2});
        for (std::size_t i = 0; i < side; ++i)
            for (std::size_t j = 0; j < side; ++j) {
                z(i * side + j, 0) = T(-2 + 4 * double(j) / double(side - 1));
                z(i * side + j, 1) = T(2 - 4 * double(i) / double(side - 1));
            }
        return decoded(model, z);
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
    // f(first) for each chunk of this rank's share of `rows`, the chunk's rows copied into
    // block_ and the tape cleared. 64 rows, a training batch: a conv model's im2col buffers grow
    // with the chunk and fall out of cache (1 thread, 70,000 rows of the tied conv kind: 3.3 s
    // at 1000 rows, 3.45 s at 256, 2.62 s at 64); dense models lose a little (0.22-0.23 s at
    // 256, 0.24 s at 64).
    template <class F>
    void each_chunk(const Matrix<T>& x, std::span<const std::size_t> rows, F&& f) {
        constexpr std::size_t chunk = 64;
        const auto [lo, hi] = shard_of(rows.size(), comm_.rank(), comm_.size());  // this rank's rows
        for (std::size_t first = lo; first < hi; first += chunk) {
            gather_rows(x, rows.subspan(first, std::min(chunk, hi - first)), block_);
            tape.clear();
            f(first);
        }
    }

    Matrix<T> decoded(models::Model<T>& model, const Matrix<T>& z) {
        tape.clear();
        return model.generate(tape, z).value();
    }

    Communicator& comm_;
    Matrix<T> block_;  // the chunk's rows, reused
    std::vector<std::uint64_t> ids_;
    std::vector<Var<T>> terms_;
};

}  // namespace tg::train
