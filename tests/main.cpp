#define BOOST_TEST_MODULE tapegrad
#include <boost/test/unit_test.hpp>
