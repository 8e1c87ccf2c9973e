// The framework's thread pool.
//
// Why one pool of our own, and OpenBLAS on one thread: on a 2-core machine OpenBLAS's pthread
// workers spin after every gemm, and any second pool spinning beside them (OpenMP's, or ours)
// steals their core: measured here, five workload GEMMs at 784x64x64 took 1851 us with OpenBLAS
// on 2 threads next to a spinning worker, against 292 us on one. So there is one pool: OpenBLAS
// runs single-threaded inside its parts, and tg::blas::gemm splits a large product into
// row or column blocks itself (784x256x256, the tied step's GEMMs: 3374 us one thread, 1959 us
// split over two; OpenBLAS's own 2 threads: 1984 us for the GEMMs-only step in bench_workload).
//
// Why hand-rolled: a training step issues dozens of parallel regions of 5-50 us each; they
// need sub-microsecond dispatch and a static partition (part t always takes the same rows, so
// results and cache contents stay put). A worker spins briefly on its own atomic ticket
// (the next region usually follows within microseconds), then sleeps on it (C++20 atomic
// wait, a futex), so an idle pool costs nothing. oneTBB and OpenMP schedule dynamically and
// their wake-up from sleep is far slower than a region.
#include "tapegrad/threads.hpp"

#include "tapegrad/blas.hpp"
#include "tapegrad/parallel.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TG_PAUSE() _mm_pause()
#else
#define TG_PAUSE() ((void)0)
#endif

namespace tg {
namespace {

// The thread's floating-point control word and its flush-to-zero bits.
#if (defined(__x86_64__) || defined(__i386__)) && defined(__SSE__)
std::uint64_t float_mode() { return _mm_getcsr(); }
void set_float_mode(std::uint64_t m) { _mm_setcsr(unsigned(m)); }
constexpr std::uint64_t flush_bits = 0x8040;  // FTZ (bit 15): results; DAZ (bit 6): operands
#elif defined(__aarch64__)
std::uint64_t float_mode() {
    std::uint64_t r;
    asm volatile("mrs %0, fpcr" : "=r"(r));
    return r;
}
void set_float_mode(std::uint64_t m) { asm volatile("msr fpcr, %0" : : "r"(m)); }
constexpr std::uint64_t flush_bits = std::uint64_t(1) << 24;  // FZ: results and operands
#else
std::uint64_t float_mode() { return 0; }
void set_float_mode(std::uint64_t) {}
constexpr std::uint64_t flush_bits = 0;
#endif

// Gives the calling thread the flush bits `bits` (a part of flush_bits), if it has others.
void take_flush_bits(std::uint64_t bits) {
    const std::uint64_t m = float_mode();
    if ((m & flush_bits) != bits) set_float_mode((m & ~flush_bits) | bits);
}

constexpr auto spin_time = std::chrono::microseconds(200);  // then sleep

// Each worker has its own ticket: run() hands part i to worker i by bumping its ticket, so a
// worker only ever sees regions it takes part in, and fn_/ctx_ stay fixed until every ticket
// handed out has been answered through remaining_. (A single shared generation counter raced:
// a worker that starts late, or sits out a region, can miss or repeat the next one.)
class Pool {
public:
    explicit Pool(int threads) : slots_(std::size_t(threads)) {
        for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { work(i); });
    }
    ~Pool() {
        quit_.store(true);
        for (Slot& s : slots_) {
            s.ticket.fetch_add(1);
            s.ticket.notify_all();
        }
        for (std::thread& w : workers_) w.join();
    }
    int threads() const { return int(workers_.size()) + 1; }

    void run(int parts, void (*fn)(void*, int), void* ctx) {
        fn_ = fn;
        ctx_ = ctx;
        flush_ = float_mode() & flush_bits;  // the workers compute as the caller does
        error_ = nullptr;
        remaining_.store(parts - 1);
        for (int i = 1; i < parts; ++i) {
            Slot& s = slots_[std::size_t(i)];
            s.ticket.fetch_add(1);  // seq_cst, paired with the worker's `sleeping` store
            if (s.sleeping.load()) s.ticket.notify_all();
        }
        in_part = true;
        call(0);
        in_part = false;
        while (remaining_.load(std::memory_order_acquire) > 0) TG_PAUSE();
        if (error_) std::rethrow_exception(error_);
    }

private:
    // One cache line per worker, so a ticket bump does not disturb the others.
    struct alignas(64) Slot {
        std::atomic<std::uint32_t> ticket{0};  // int-sized: atomic wait is a plain futex
        std::atomic<bool> sleeping{false};
    };

    void call(int part) {
        try {
            fn_(ctx_, part);
        } catch (...) {
            std::lock_guard lock(error_mutex_);
            if (!error_) error_ = std::current_exception();
        }
    }

    void work(int index) {
        Slot& slot = slots_[std::size_t(index)];
        std::uint32_t seen = 0;  // the ticket is 0 until run() or ~Pool bumps it
        for (;;) {
            const auto until = std::chrono::steady_clock::now() + spin_time;
            for (int i = 0; slot.ticket.load(std::memory_order_acquire) == seen; ++i) {
                TG_PAUSE();
                if ((i & 255) == 255 && std::chrono::steady_clock::now() > until) {
                    slot.sleeping.store(true);
                    slot.ticket.wait(seen);  // returns at once if the ticket moved meanwhile
                    slot.sleeping.store(false);
                }
            }
            seen = slot.ticket.load(std::memory_order_acquire);
            if (quit_.load()) return;
            take_flush_bits(flush_);
            in_part = true;
            call(index);
            in_part = false;
            remaining_.fetch_sub(1, std::memory_order_release);
        }
    }

public:
    static thread_local bool in_part;

private:
    std::vector<Slot> slots_;  // slot 0 (the caller's) is unused
    std::vector<std::thread> workers_;
    std::atomic<int> remaining_{0};
    std::atomic<bool> quit_{false};
    void (*fn_)(void*, int) = nullptr;
    void* ctx_ = nullptr;
    std::uint64_t flush_ = 0;
    std::exception_ptr error_;
    std::mutex error_mutex_;
};

thread_local bool Pool::in_part = false;

int current_threads = 1;
Pool* pool = nullptr;  // null for one thread
std::atomic<bool> pool_busy{false};

}  // namespace

void set_num_threads(int n) {
    n = n < 1 ? 1 : n;
    blas::detail::set_blas_threads(1);  // the pool splits products itself (see above)
    if (n == current_threads) return;
    delete pool;
    pool = n > 1 ? new Pool(n) : nullptr;
    current_threads = n;
}

int num_threads() { return current_threads; }

FlushDenormals::FlushDenormals(bool enable) : saved_(float_mode()), changed_(enable && flush_bits != 0) {
    if (changed_) take_flush_bits(flush_bits);
}

FlushDenormals::~FlushDenormals() {
    if (changed_) take_flush_bits(saved_ & flush_bits);
}

bool flushing_denormals() { return flush_bits != 0 && (float_mode() & flush_bits) == flush_bits; }

namespace parallel {

int threads() { return current_threads; }

void run(int parts, void (*fn)(void*, int), void* ctx) {
    if (parts > current_threads) parts = current_threads;
    // Serially when nested, or while another thread of the user's has the pool.
    if (parts <= 1 || !pool || Pool::in_part || pool_busy.exchange(true)) {
        for (int t = 0; t < parts; ++t) fn(ctx, t);
        return;
    }
    struct Release {
        ~Release() { pool_busy.store(false); }
    } release;
    pool->run(parts, fn, ctx);
}

}  // namespace parallel
}  // namespace tg
