#pragma once
// Helpers shared by the test files: seeded random matrices and a check that an error names
// what it should.
#include <tapegrad/tensor.hpp>

#include <boost/test/unit_test.hpp>

#include <initializer_list>
#include <random>
#include <string>

namespace tg_test {

// Uniform in [lo, hi].
template <class T = double>
tg::Matrix<T> random_matrix(std::mt19937_64& rng, std::size_t rows, std::size_t cols, double lo = -1, double hi = 1) {
    std::uniform_real_distribution<double> u(lo, hi);
    tg::Matrix<T> m = tg::Matrix<T>::from_shape({rows, cols});
    for (T& v : m) v = T(u(rng));
    return m;
}

// Runs `f`, expects it to throw E, and checks that the message contains every fragment.
template <class E, class F>
void expect_error(F&& f, std::initializer_list<const char*> fragments) {
    try {
        f();
    } catch (const E& e) {
        const std::string message = e.what();
        for (const char* fragment : fragments)
            BOOST_TEST(message.find(fragment) != std::string::npos, "message '" << message << "' lacks '" << fragment << "'");
        return;
    }
    BOOST_FAIL("expected an exception");
}

}  // namespace tg_test
