#include "alloc_counter.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

// The real allocators, under the names the linker's --wrap gives them.
extern "C" {
void* __real_malloc(std::size_t);
void* __real_calloc(std::size_t, std::size_t);
void* __real_realloc(void*, std::size_t);
int __real_posix_memalign(void**, std::size_t, std::size_t);
void* __real_aligned_alloc(std::size_t, std::size_t);
void* __real_memalign(std::size_t, std::size_t);
}

namespace {
std::atomic<std::size_t> allocations{0};

void count() { allocations.fetch_add(1, std::memory_order_relaxed); }

void* counted_new(std::size_t size, std::size_t alignment) {
    count();
    if (size == 0) size = 1;
    void* p = nullptr;
    if (alignment <= alignof(std::max_align_t)) p = __real_malloc(size);
    else if (__real_posix_memalign(&p, alignment, size) != 0) p = nullptr;
    if (!p) throw std::bad_alloc();
    return p;
}
}  // namespace

std::size_t tg::testing::allocation_count() { return allocations.load(std::memory_order_relaxed); }

extern "C" {
void* __wrap_malloc(std::size_t n) { return count(), __real_malloc(n); }
void* __wrap_calloc(std::size_t n, std::size_t s) { return count(), __real_calloc(n, s); }
void* __wrap_realloc(void* p, std::size_t n) { return count(), __real_realloc(p, n); }
int __wrap_posix_memalign(void** p, std::size_t a, std::size_t n) { return count(), __real_posix_memalign(p, a, n); }
void* __wrap_aligned_alloc(std::size_t a, std::size_t n) { return count(), __real_aligned_alloc(a, n); }
void* __wrap_memalign(std::size_t a, std::size_t n) { return count(), __real_memalign(a, n); }
}

void* operator new(std::size_t size) { return counted_new(size, 0); }
void* operator new[](std::size_t size) { return counted_new(size, 0); }
void* operator new(std::size_t size, std::align_val_t a) { return counted_new(size, std::size_t(a)); }
void* operator new[](std::size_t size, std::align_val_t a) { return counted_new(size, std::size_t(a)); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
