#pragma once
// Every model of the zoo compiled once for one precision, TG_MODELS_PRECISION (the headers
// declare them `extern` for float and double, so no other translation unit instantiates them).
#include <tapegrad/models/all.hpp>

namespace tg::models {
template class Autoencoder<TG_MODELS_PRECISION>;
template class Contractive<TG_MODELS_PRECISION>;
template class ContractiveAutoencoder<TG_MODELS_PRECISION>;
template class ConvAutoencoder<TG_MODELS_PRECISION>;
template class DenoisingAutoencoder<TG_MODELS_PRECISION>;
template class EnergyAutoencoder<TG_MODELS_PRECISION>;
template class LinearAutoencoder<TG_MODELS_PRECISION>;
template class SparseAutoencoder<TG_MODELS_PRECISION>;
template class StackedAutoencoder<TG_MODELS_PRECISION>;
template class StepAutoencoder<TG_MODELS_PRECISION>;
template class VariationalAutoencoder<TG_MODELS_PRECISION>;
}  // namespace tg::models
