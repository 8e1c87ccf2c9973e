#define TG_OPS_PRECISION double
#include "ops_instances.hpp"
