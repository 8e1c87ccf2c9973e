#include "tapegrad/threads.hpp"

#include "tapegrad/blas.hpp"

namespace tg {

namespace {
int current_threads = 1;
}

void set_num_threads(int n) {
    current_threads = n < 1 ? 1 : n;
    blas::set_num_threads(current_threads);
}

int num_threads() { return current_threads; }

}  // namespace tg
