#pragma once
// Data parallelism for any Model<T> and optimizer: N processes each take a slice of every
// global batch, and after each backward the gradients are summed across them, so every process
// takes the step one process would take on the whole batch.
//
// The processes are a `Communicator`; this header needs no MPI (the default is one process).
// tapegrad::mpi (distributed/) implements it over MPI:
//
//     tg::mpi::Communicator world(argc, argv);            // MPI_Init; rank and size of the job
//     tg::train::DataParallel<float> dp(world, model.parameters());
//     dp.broadcast_parameters();                           // every rank starts from rank 0's
//     for (each global batch of B rows) {
//         const auto [lo, hi] = dp.shard(B);               // this rank's rows of it
//         tape.clear(); adam.zero_grad();
//         Var<float> loss = model.loss(tape, rows lo..hi of the batch);
//         tape.backward(loss);
//         const double global_loss = dp.reduce_gradients(hi - lo, B, loss.value()(0, 0));
//         adam.step();                                     // identical on every rank
//     }
//
// Why the global batch: a model's loss is a mean over its rows, so the slice's gradient is
// scaled by (its rows / B) before the sum; the result is the gradient of the mean over the
// global batch, and terms that do not depend on the batch (weight decay) come out once. A term
// that is a non-linear function of a batch statistic (the KL sparsity penalty of the mean
// activation) is the exception: each slice uses its own mean, which the sum does not undo.
#include <tapegrad/parameter.hpp>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tg::train {

/// The processes of a data-parallel run, as the library sees them. This default is a single
/// process, where every operation is the identity.
class Communicator {
public:
    virtual ~Communicator() = default;
    virtual int rank() const { return 0; }
    virtual int size() const { return 1; }
    /// data[i] = the sum over all ranks of data[i], on every rank.
    virtual void sum(double* /*data*/, std::size_t /*n*/) {}
    virtual void sum(float* /*data*/, std::size_t /*n*/) {}
    /// `bytes` bytes from rank `root` to every rank.
    virtual void broadcast(void* /*data*/, std::size_t /*bytes*/, int /*root*/) {}
    /// Ends every process of the job with exit status `code`: one rank's error must not leave
    /// the others waiting in a collective.
    [[noreturn]] virtual void abort(int code);
    /// Whether some rank passed true (every rank must call it).
    bool any(bool mine) {
        double v = mine ? 1 : 0;
        sum(&v, 1);
        return v > 0;
    }
};

/// The single-process communicator, for code that needs one.
Communicator& single_process();

/// Rows [lo, hi) of a global batch of `rows` rows that rank `rank` of `size` takes: contiguous
/// slices, the first rows % size ranks one row larger.
inline std::pair<std::size_t, std::size_t> shard_of(std::size_t rows, int rank, int size) {
    const std::size_t n = std::size_t(size), r = std::size_t(rank), base = rows / n, extra = rows % n;
    const std::size_t lo = r * base + std::min(r, extra);
    return {lo, lo + base + (r < extra ? 1 : 0)};
}

template <class T>
class DataParallel {
public:
    /// `parameters` in the same order on every rank (a model's parameters() is).
    DataParallel(Communicator& communicator, std::vector<Parameter<T>*> parameters)
        : comm_(communicator), parameters_(std::move(parameters)) {
        values_ = 1;  // + the loss
        for (const Parameter<T>* p : parameters_) values_ += p->value.size();
        // The one buffer every reduction uses (no allocation per step); one process needs none.
        if (comm_.size() > 1) flat_.resize(values_);
    }

    Communicator& communicator() const { return comm_; }
    int rank() const { return comm_.rank(); }
    int size() const { return comm_.size(); }
    /// Values reduced per step (every gradient entry and the loss), as `T`.
    std::size_t reduced_values() const { return values_; }

    /// This rank's rows [lo, hi) of a global batch of `rows` rows.
    std::pair<std::size_t, std::size_t> shard(std::size_t rows) const { return shard_of(rows, rank(), size()); }

    /// Every parameter's value from rank 0, so that all ranks start from the same point.
    void broadcast_parameters() {
        for (Parameter<T>* p : parameters_) comm_.broadcast(p->value.data(), p->value.size() * sizeof(T), 0);
    }

    /// After this rank's backward over `local_rows` of a `global_rows` batch (loss `local_loss`,
    /// a mean over its rows): every gradient becomes the gradient of the global batch's mean
    /// loss, on every rank, with one reduction over one flat buffer. Returns the global loss.
    /// A rank with no rows passes local_rows 0 (its gradients are ignored, not read).
    double reduce_gradients(std::size_t local_rows, std::size_t global_rows, double local_loss) {
        if (size() == 1) return local_loss;  // the gradients already are the batch's
        const T weight = global_rows ? T(double(local_rows) / double(global_rows)) : T(0);
        T* out = flat_.data();
        for (const Parameter<T>* p : parameters_) {
            const T* g = p->grad.data();
            const std::size_t n = p->grad.size();
            if (local_rows == 0)
                std::fill(out, out + n, T(0));
            else
                for (std::size_t i = 0; i < n; ++i) out[i] = weight * g[i];
            out += n;
        }
        *out = local_rows ? T(double(weight) * local_loss) : T(0);
        comm_.sum(flat_.data(), flat_.size());
        const T* in = flat_.data();
        for (Parameter<T>* p : parameters_) {
            std::copy(in, in + p->grad.size(), p->grad.data());
            p->grad_is_zero = false;
            in += p->grad.size();
        }
        return double(*in);
    }

private:
    Communicator& comm_;
    std::vector<Parameter<T>*> parameters_;
    std::size_t values_ = 0;
    std::vector<T> flat_;
};

}  // namespace tg::train
