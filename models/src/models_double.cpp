#define TG_MODELS_PRECISION double
#include "instances.hpp"
