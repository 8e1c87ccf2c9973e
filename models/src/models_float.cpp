#define TG_MODELS_PRECISION float
#include "instances.hpp"
