#pragma once
// A linear probe: what a learned code is worth to a classifier that may only draw a linear
// boundary through it (Vincent et al. 2010 judged stacked denoising autoencoders this way).
// Multinomial logistic regression, trained on the tape with softmax_cross_entropy, on frozen
// features standardised with the training set's column means and deviations (a feature that
// is constant on the training set is left centred, unscaled).
#include <tapegrad/models/model.hpp>
#include <tapegrad/train/data.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace tg::train {

struct ProbeOptions {
    int epochs = 30;                 ///< passes over the training features
    std::size_t batch = 256;
    double learning_rate = 1e-3;     ///< Adam, decayed to 0 by a cosine over the epochs
    std::uint64_t seed = 1;          ///< shuffling (the weights start at zero)
};

struct ProbeResult {
    double train_accuracy = 0, test_accuracy = 0;
    double train_loss = 0;           ///< the last epoch's mean cross-entropy
    std::size_t features = 0, classes = 0, train_rows = 0, test_rows = 0;
    double seconds = 0;
};

/// Labels are class indices in [0, classes). Throws std::invalid_argument (naming the count
/// or the label) for labels that do not fit the features.
template <class T>
ProbeResult linear_probe(const Matrix<T>& train_features, const std::vector<std::int32_t>& train_labels,
                         const Matrix<T>& test_features, const std::vector<std::int32_t>& test_labels,
                         std::size_t classes, const ProbeOptions& options = {});

/// The probe on codes of the data's train and test rows (`what` names them: "the model's
/// code", "raw pixels"...): prints the result and writes out/probe.json (if `out` is not empty).
/// Throws UsageError when the data has no labels.
template <class T>
ProbeResult probe_and_report(const Matrix<T>& train_codes, const Matrix<T>& test_codes, const Data& data,
                             const std::string& what, const std::string& out, const ProbeOptions& options = {});

/// Writes codes-train.npy, codes-test.npy and (if given) reconstructions-test.npy into `out`,
/// each atomically, and prints their names.
template <class T>
void export_codes(const std::string& out, const Matrix<T>& train_codes, const Matrix<T>& test_codes,
                  const Matrix<T>* test_reconstructions = nullptr);

/// The model's code (Model::code) of every row of x, computed in chunks.
template <class T>
Matrix<T> codes_of(models::Model<T>& model, const Matrix<T>& x);
/// The model's reconstruction of every row of x, computed in chunks.
template <class T>
Matrix<T> reconstructions_of(models::Model<T>& model, const Matrix<T>& x);

}  // namespace tg::train
