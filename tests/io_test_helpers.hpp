#pragma once
// Helpers shared by the io test suites: files written byte by byte, npy files built by hand (so
// that a test controls every header byte), and error messages checked part by part.
#include <boost/test/unit_test.hpp>

#include "tapegrad/io/errors.hpp"

#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace tg_test {

using Bytes = std::vector<std::uint8_t>;

inline void write_bytes(const std::string& path, const Bytes& b, bool gzip = false) {
    if (gzip) {
        gzFile f = gzopen(path.c_str(), "wb");
        BOOST_REQUIRE(f != nullptr);
        if (!b.empty()) BOOST_REQUIRE(gzwrite(f, b.data(), static_cast<unsigned>(b.size())) == static_cast<int>(b.size()));
        gzclose(f);
    } else {
        std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    }
}

// Runs f, expecting a T whose message contains every one of `parts`.
template <class E>
void check_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
    try {
        f();
        BOOST_ERROR("no exception; expected one mentioning " << parts.front());
    } catch (const E& e) {
        const std::string msg = e.what();
        for (const auto& p : parts) BOOST_CHECK_MESSAGE(msg.find(p) != std::string::npos, "'" << msg << "' lacks '" << p << "'");
    }
}

// A loader that must refuse `file` (written to `path`) with a FormatError naming the path and
// every one of `parts`.
inline std::function<void(const Bytes&, const std::vector<std::string>&)> format_error_check(
    const std::string& path, std::function<void(const std::string&)> load) {
    return [path, load](const Bytes& file, const std::vector<std::string>& parts) {
        write_bytes(path, file);
        std::vector<std::string> all = parts;
        all.push_back(path);
        check_error<tg::io::FormatError>([&] { load(path); }, all);
    };
}

// A byte-exact npy file: preamble for `version`, dict text padded to `total_header` bytes.
inline Bytes npy(const std::string& dict, const Bytes& data, unsigned version = 1, std::size_t total_header = 128) {
    const std::size_t pre = version == 1 ? 10 : 12;
    std::string text = dict;
    text.resize(total_header - pre - 1, ' ');
    text += '\n';
    Bytes b = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<std::uint8_t>(version), 0};
    for (std::size_t i = 0; i < pre - 8; ++i) b.push_back(static_cast<std::uint8_t>(text.size() >> (8 * i)));
    b.insert(b.end(), text.begin(), text.end());
    b.insert(b.end(), data.begin(), data.end());
    return b;
}

template <class E>
Bytes raw_bytes(const std::vector<E>& v) {
    Bytes b(v.size() * sizeof(E));
    if (!b.empty()) std::memcpy(b.data(), v.data(), b.size());
    return b;
}

inline Bytes float_bytes(const std::vector<float>& v) { return raw_bytes(v); }

}  // namespace tg_test
