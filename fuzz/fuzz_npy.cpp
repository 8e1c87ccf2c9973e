// libFuzzer target for tg::io::load_npy<float> and load_npy<double>, the converting
// load_npy_as<float/double> (float32/float64, C/Fortran order) and load_npy_labels.
//
// Each input is loaded as a file with both element types. If it starts with the npy magic and
// a version byte, a second variant is loaded too: the header-length field rewritten so that
// the header ends at the first '\n' (where numpy ends it). Random mutations rarely keep that
// field consistent with the dictionary text; the variant lets the fuzzer explore the
// dictionary parser and the xtensor / direct read paths.
//
// Oracles, besides the sanitizers and "only FormatError / IoError / invalid_argument":
//  - on success: the file is magic + version + length + header + exactly rows*cols elements,
//    and the matrix holds exactly those trailing bytes (bit for bit, so NaN payloads too);
//    the header names the requested dtype; a rank-1 shape gives one row;
//  - a file is never accepted as both float32 and float64;
//  - load_npy_as accepts whatever load_npy accepts, with the same bits and no conversion
//    reported; what it accepts has a data part of exactly size * (4 or 8) bytes;
//  - load_npy_labels' labels lie in 0..2^31 - 1, fill the data part exactly, and a file is
//    never both labels and a float matrix;
//  - FormatErrors that mean the loader contradicted its own validation (see fuzz_common.hpp)
//    are findings;
//  - the largest single allocation is bounded by the file size (fuzz_common.hpp).
#include "fuzz_common.hpp"

#include "tapegrad/io/npy.hpp"

#include <algorithm>
#include <optional>

namespace {

using fuzz::Bytes;
using fuzz::Outcome;

constexpr std::uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

std::string describe(const char* what, const Bytes& file) {
    return std::string(what) + " (file " + std::to_string(file.size()) + " bytes: " +
           fuzz::hex(file.data(), file.size(), 256) + ")";
}

template <class T>
bool check(const std::string& path, const Bytes& file, const char* what) {
    std::optional<tg::Matrix<T>> m;
    std::string msg;
    Outcome o;
    {
        fuzz::AllocScope scope;
        o = fuzz::expect([&] { m = tg::io::load_npy<T>(path); }, &msg, path);
        fuzz::check_alloc(scope, file.size(), what);
    }
    if (o != Outcome::ok) {
        if (o != Outcome::format_error) {
            fuzz::finding(describe(what, file) + ": rejected with " + fuzz::name(o) + " instead of FormatError: " + msg);
        }
        return false;
    }
    // Accepted: re-derive the layout independently.
    if (file.size() < 10 || !std::equal(kMagic, kMagic + 6, file.begin())) fuzz::finding(describe(what, file) + ": accepted without magic");
    const unsigned major = file[6];
    if (major < 1 || major > 3 || file[7] != 0) fuzz::finding(describe(what, file) + ": accepted an unsupported version");
    const std::size_t len_bytes = major == 1 ? 2 : 4;
    std::uint64_t header_len = 0;
    for (std::size_t i = 0; i < len_bytes; ++i) header_len |= std::uint64_t{file[8 + i]} << (8 * i);
    const std::uint64_t data_offset = 8 + len_bytes + header_len;
    const std::uint64_t bytes = std::uint64_t{m->size()} * sizeof(T);
    if (data_offset > file.size() || file.size() - data_offset != bytes) {
        fuzz::finding(describe(what, file) + ": matrix of " + std::to_string(m->size()) + " elements from a file whose data part is " +
                      std::to_string(file.size() - std::min<std::uint64_t>(data_offset, file.size())) + " bytes");
    }
    if (bytes != 0 && std::memcmp(m->data(), file.data() + data_offset, bytes) != 0) {
        fuzz::finding(describe(what, file) + ": matrix contents differ from the file's data bytes");
    }
    const std::string header(file.begin() + 8 + len_bytes, file.begin() + data_offset);
    const std::string descr = sizeof(T) == 4 ? "<f4" : "<f8";
    if (header.find("'" + descr + "'") == std::string::npos && header.find("\"" + descr + "\"") == std::string::npos) {
        fuzz::finding(describe(what, file) + ": accepted a header that does not name " + descr);
    }
    return true;
}

// Size of the data part if the preamble is well formed (otherwise nothing was accepted).
std::uint64_t data_part(const Bytes& file) {
    if (file.size() < 12) return 0;
    const std::size_t len_bytes = file[6] == 1 ? 2 : 4;
    std::uint64_t header_len = 0;
    for (std::size_t i = 0; i < len_bytes; ++i) header_len |= std::uint64_t{file[8 + i]} << (8 * i);
    const std::uint64_t offset = 8 + len_bytes + header_len;
    return offset <= file.size() ? file.size() - offset : 0;
}

template <class T>
bool check_converting(const std::string& path, const Bytes& file, const char* what, bool strict_ok) {
    std::optional<tg::Matrix<T>> converted, strict;
    tg::io::NpyConversion conversion;
    std::string msg;
    Outcome o;
    {
        fuzz::AllocScope scope;
        o = fuzz::expect([&] { converted = tg::io::load_npy_as<T>(path, &conversion); }, &msg, path);
        fuzz::check_alloc(scope, file.size(), what);
    }
    if (o != Outcome::ok && o != Outcome::format_error)
        fuzz::finding(describe(what, file) + ": load_npy_as rejected with " + fuzz::name(o) + ": " + msg);
    if (strict_ok) {
        if (o != Outcome::ok) fuzz::finding(describe(what, file) + ": load_npy accepts it, load_npy_as refuses: " + msg);
        strict = tg::io::load_npy<T>(path);
        if (conversion.converted() || strict->shape() != converted->shape() ||
            (strict->size() != 0 && std::memcmp(strict->data(), converted->data(), strict->size() * sizeof(T)) != 0))
            fuzz::finding(describe(what, file) + ": load_npy_as differs from load_npy on a file both accept");
    }
    if (o != Outcome::ok) return false;
    const std::uint64_t element = conversion.stored_dtype == "float32" ? 4 : 8;
    if (data_part(file) != std::uint64_t{converted->size()} * element)
        fuzz::finding(describe(what, file) + ": load_npy_as returned " + std::to_string(converted->size()) +
                      " elements for a data part of " + std::to_string(data_part(file)) + " bytes");
    return true;
}

bool check_labels(const std::string& path, const Bytes& file, const char* what) {
    std::vector<std::int64_t> labels;
    std::string msg;
    Outcome o;
    {
        fuzz::AllocScope scope;
        o = fuzz::expect([&] { labels = tg::io::load_npy_labels(path); }, &msg, path);
        fuzz::check_alloc(scope, file.size(), what);
    }
    if (o != Outcome::ok && o != Outcome::format_error)
        fuzz::finding(describe(what, file) + ": load_npy_labels rejected with " + fuzz::name(o) + ": " + msg);
    if (o != Outcome::ok) return false;
    for (const std::int64_t v : labels)
        if (v < 0 || v > 0x7fffffff) fuzz::finding(describe(what, file) + ": label " + std::to_string(v) + " accepted");
    if (labels.empty() ? data_part(file) != 0 : data_part(file) % labels.size() != 0)
        fuzz::finding(describe(what, file) + ": " + std::to_string(labels.size()) + " labels from a data part of " +
                      std::to_string(data_part(file)) + " bytes");
    return true;
}

void check_file(const std::string& path, const Bytes& file, const char* what) {
    const bool f = check<float>(path, file, what);
    const bool d = check<double>(path, file, what);
    if (f && d) fuzz::finding(describe(what, file) + ": accepted as both float32 and float64");
    const bool as_float = check_converting<float>(path, file, what, f);
    check_converting<double>(path, file, what, d);
    if (check_labels(path, file, what) && as_float) fuzz::finding(describe(what, file) + ": accepted as labels and as floats");
}

fuzz::MemFile* g_file = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz::install_alloc_hooks();
    g_file = new fuzz::MemFile("npy");
    std::string msg;
    if (fuzz::expect([] { tg::io::load_npy<float>("/nonexistent/tg-fuzz.npy"); }, &msg) != Outcome::io_error) {
        fuzz::finding("a missing file did not raise IoError: " + msg);
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Bytes file(data, data + size);
    g_file->write(file);
    check_file(g_file->path(), file, "raw input");

    // Variant with a consistent header length.
    if (size >= 12 && std::equal(kMagic, kMagic + 6, data) && data[6] >= 1 && data[6] <= 3) {
        const std::size_t pre = data[6] == 1 ? 10 : 12;
        const auto nl = std::find(file.begin() + pre, file.end(), '\n');
        if (nl != file.end()) {
            const std::uint64_t len = static_cast<std::uint64_t>(nl - file.begin()) + 1 - pre;
            if (pre == 10 ? len <= 0xFFFF : true) {
                Bytes fixed = file;
                for (std::size_t i = 0; i < pre - 8; ++i) fixed[8 + i] = static_cast<std::uint8_t>(len >> (8 * i));
                if (fixed != file) {
                    g_file->write(fixed);
                    check_file(g_file->path(), fixed, "length-fixed input");
                }
            }
        }
    }
    return 0;
}
