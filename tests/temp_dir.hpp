#pragma once
// A fresh directory under the system's temp directory, removed with everything in it when the
// test ends (pass or fail).
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <string>

namespace tg_test {

struct TempDir {
    std::filesystem::path dir;

    explicit TempDir(const std::string& prefix = "tapegrad-test") {
        std::string t = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
        BOOST_REQUIRE(::mkdtemp(t.data()) != nullptr);
        dir = t;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    // The path of `name` inside the directory.
    std::string file(const std::string& name) const { return (dir / name).string(); }
    std::string operator/(const std::string& name) const { return file(name); }
    std::size_t count_entries() const {
        return static_cast<std::size_t>(
            std::distance(std::filesystem::directory_iterator(dir), std::filesystem::directory_iterator()));
    }
};

}  // namespace tg_test
