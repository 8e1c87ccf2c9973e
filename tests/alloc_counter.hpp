#pragma once
// Counts heap allocations made through operator new (replaced in alloc_counter.cpp for the
// whole test binary), so a test can assert that a training step allocates nothing.
#include <cstddef>

namespace tg::testing {
std::size_t allocation_count();
}
