#pragma once
#include "models/autoencoder.hpp"
#include "models/contractive.hpp"
#include "models/denoising.hpp"
#include "models/sparse.hpp"
#include "models/stacked.hpp"
