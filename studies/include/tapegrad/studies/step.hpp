#pragma once
// The step-function study's data, training loop and measurements, shared by the step_study
// tool, its test and its benchmark (so that all three time and check the same step).
#include <tapegrad/models/step_ae.hpp>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace tg::studies {

// Row p-1 is the step function with its step at position p = 1 .. n+1 (1-based j):
// x_j = amplitude if j >= p else 0. Row 0 is all `amplitude`, row n all zeros.
template <class T>
Matrix<T> step_functions(std::size_t n, double amplitude = 5.0) {
    Matrix<T> x = make_matrix<T>(n + 1, n);
    for (std::size_t p = 1; p <= n + 1; ++p)
        for (std::size_t j = 1; j <= n; ++j) x(p - 1, j - 1) = j >= p ? T(amplitude) : T(0);
    return x;
}

// Each column minus its mean over the data set.
template <class T>
Matrix<T> centred_columns(const Matrix<T>& x) {
    Matrix<T> c = x;
    const std::size_t rows = x.shape()[0], cols = x.shape()[1];
    for (std::size_t j = 0; j < cols; ++j) {
        double mean = 0;
        for (std::size_t i = 0; i < rows; ++i) mean += double(x(i, j));
        mean /= double(rows);
        for (std::size_t i = 0; i < rows; ++i) c(i, j) = T(double(x(i, j)) - mean);
    }
    return c;
}

enum class StepOptimizer { rmsprop, adam };

struct StepRunOptions {
    models::StepAutoencoderConfig model;
    StepOptimizer optimizer = StepOptimizer::rmsprop;
    double lr = 1e-4;
    long epochs = 557600;    // one full-batch step per epoch, as in the study
    long lr_drop_epoch = -1;  // from this epoch on, lr_after (negative: never)
    double lr_after = 1e-5;
    bool centred = false;    // the encoder sees centred inputs; the target stays the raw steps
    long log_every = 0;      // record the loss every this many epochs (0: never)
    double amplitude = 5.0;
};

// Everything a training step touches, built once: model, tape, optimizer, input and target.
template <class T>
class StepTrainer {
public:
    explicit StepTrainer(const StepRunOptions& o)
        : options(o), model(o.model), target(step_functions<T>(o.model.n, o.amplitude)),
          input(o.centred ? centred_columns(target) : target) {
        if (o.optimizer == StepOptimizer::adam) optimizer = std::make_unique<Adam<T>>(model.parameters(), o.lr);
        else optimizer = std::make_unique<RMSProp<T>>(model.parameters(), o.lr);
    }

    // One full-batch step: forward, backward, update. Returns the loss before the update.
    T step() {
        tape.clear();
        optimizer->zero_grad();
        Var<T> loss = model.loss_with_input(tape, input, target);
        tape.backward(loss);
        optimizer->step();
        return loss.value()(0, 0);
    }

    // The code of each step function (position p = 1 .. n+1) and its reconstruction.
    void evaluate(std::vector<double>& code, Matrix<double>& reconstruction) {
        tape.clear();
        Var<T> z = model.encode(tape, tape.constant(input, "x"));
        Var<T> y = model.decode(tape, z);
        const std::size_t rows = input.shape()[0], n = input.shape()[1];
        code.assign(rows, 0);
        reconstruction = make_matrix<double>(rows, n);
        for (std::size_t i = 0; i < rows; ++i) {
            code[i] = double(z.value()(i, 0));
            for (std::size_t j = 0; j < n; ++j) reconstruction(i, j) = double(y.value()(i, j));
        }
        tape.clear();
    }

    StepRunOptions options;
    models::StepAutoencoder<T> model;
    Matrix<T> target, input;
    Tape<T> tape;
    std::unique_ptr<Optimizer<T>> optimizer;
};

struct LineFit {
    double slope = 0, intercept = 0, r2 = 0;
};

// Least-squares line y = slope x + intercept and its coefficient of determination.
inline LineFit fit_line(const std::vector<double>& x, const std::vector<double>& y) {
    const double n = double(x.size());
    double mx = 0, my = 0;
    for (std::size_t i = 0; i < x.size(); ++i) mx += x[i], my += y[i];
    mx /= n, my /= n;
    double sxx = 0, sxy = 0, syy = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        sxx += (x[i] - mx) * (x[i] - mx);
        sxy += (x[i] - mx) * (y[i] - my);
        syy += (y[i] - my) * (y[i] - my);
    }
    LineFit f;
    f.slope = sxx > 0 ? sxy / sxx : 0;
    f.intercept = my - f.slope * mx;
    f.r2 = syy > 0 ? sxy * sxy / (sxx * syy) : 1;
    return f;
}

// Strictly increasing or strictly decreasing: every position gets its own code.
inline bool strictly_monotonic(const std::vector<double>& v) {
    bool up = true, down = true;
    for (std::size_t i = 1; i < v.size(); ++i) {
        up &= v[i] > v[i - 1];
        down &= v[i] < v[i - 1];
    }
    return up || down;
}

struct StepRunResult {
    double final_mse = 0;  // after the last update, over the whole data set
    double seconds = 0;    // training loop only
    std::vector<double> code, positions, error_per_position, w1;
    Matrix<double> reconstruction;
    LineFit code_fit;
    bool monotonic = false;
    std::vector<double> loss_epochs, loss_values;
};

template <class T>
StepRunResult run_step_study(const StepRunOptions& o) {
    StepTrainer<T> trainer(o);
    StepRunResult r;
    const auto start = std::chrono::steady_clock::now();
    for (long e = 0; e < o.epochs; ++e) {
        if (e == o.lr_drop_epoch) trainer.optimizer->learning_rate = o.lr_after;
        const T loss = trainer.step();
        if (o.log_every > 0 && e % o.log_every == 0) {
            r.loss_epochs.push_back(double(e));
            r.loss_values.push_back(double(loss));
        }
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    trainer.evaluate(r.code, r.reconstruction);
    const std::size_t rows = r.code.size(), n = o.model.n;
    double total = 0;
    for (std::size_t i = 0; i < rows; ++i) {
        r.positions.push_back(double(i + 1));
        double e = 0;
        for (std::size_t j = 0; j < n; ++j) {
            const double d = r.reconstruction(i, j) - double(trainer.target(i, j));
            e += d * d;
        }
        total += e;
        r.error_per_position.push_back(e / double(n));
    }
    r.final_mse = total / double(rows * n);
    r.code_fit = fit_line(r.positions, r.code);
    r.monotonic = strictly_monotonic(r.code);
    r.w1.assign(trainer.model.w1.value.begin(), trainer.model.w1.value.end());
    return r;
}

}  // namespace tg::studies
