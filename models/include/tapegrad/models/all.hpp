#pragma once
// Every model of the zoo.
#include <tapegrad/models/autoencoder.hpp>
#include <tapegrad/models/contractive.hpp>
#include <tapegrad/models/conv_ae.hpp>
#include <tapegrad/models/denoising.hpp>
#include <tapegrad/models/energy.hpp>
#include <tapegrad/models/linear_ae.hpp>
#include <tapegrad/models/sparse.hpp>
#include <tapegrad/models/stacked.hpp>
#include <tapegrad/models/step_ae.hpp>
#include <tapegrad/models/vae.hpp>
