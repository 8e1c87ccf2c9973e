#pragma once
// How many threads the library uses: one call sets the framework's own worker pool (elementwise
// ops, reductions, optimizer updates) and the BLAS it calls. See src/threads.cpp for why there is
// a single pool.
namespace tg {

/// Threads for everything that follows (n >= 1). Not thread-safe: call it between steps.
void set_num_threads(int n);
/// The current thread count (1 until set).
int num_threads();

}  // namespace tg
