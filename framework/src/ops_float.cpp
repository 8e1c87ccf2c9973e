#define TG_OPS_PRECISION float
#include "ops_instances.hpp"
