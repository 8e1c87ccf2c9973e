#pragma once
// How many threads the library uses: one call sets the framework's own worker pool (elementwise
// ops, reductions, optimizer updates) and the BLAS it calls. See src/threads.cpp for why there is
// a single pool.
#include <cstdint>

namespace tg {

/// Threads for everything that follows (n >= 1). Not thread-safe: call it between steps.
void set_num_threads(int n);
/// The current thread count (1 until set).
int num_threads();

/// While it lives, the calling thread flushes denormal floats to zero, as results and as
/// operands (x86: MXCSR's FTZ and DAZ bits; AArch64: FPCR.FZ); the previous mode comes back when
/// it ends. The pool's workers take the caller's mode for every parallel region, so results do
/// not depend on the thread count. Why: float values below 2^-126 (2^-1022) carry nothing a
/// model can use, and on Intel cores each operation on one takes a microcode assist of ~100
/// cycles: Adam's update of the conv autoencoder took 353 us a step with them and 50 without
/// (bench_epoch, Xeon 2.8 GHz). tg::train::Trainer holds one during fit() unless told not to.
/// `enable = false` leaves the mode as it is. Elsewhere (no SSE, no AArch64) it does nothing.
class FlushDenormals {
public:
    explicit FlushDenormals(bool enable = true);
    ~FlushDenormals();
    FlushDenormals(const FlushDenormals&) = delete;
    FlushDenormals& operator=(const FlushDenormals&) = delete;

private:
    std::uint64_t saved_;
    bool changed_;
};

/// Whether the calling thread flushes denormals to zero (see FlushDenormals).
bool flushing_denormals();

}  // namespace tg
