#pragma once
// Counts heap allocations for the whole test binary (alloc_counter.cpp), so a test can assert
// that a training step allocates nothing. Every path the library can reach is counted:
// operator new (replaced), and malloc, calloc, realloc, posix_memalign, aligned_alloc and
// memalign called from the binary's own objects and the static tapegrad libraries (the linker
// wraps them: tests/CMakeLists.txt). xtensor's buffers come from xsimd's aligned allocator,
// which calls posix_memalign: those are the allocations that matter most.
#include <cstddef>

namespace tg::testing {
std::size_t allocation_count();
}
