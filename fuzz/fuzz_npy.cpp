// libFuzzer target for tg::io::load_npy<float> and load_npy<double>.
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

void check_file(const std::string& path, const Bytes& file, const char* what) {
    const bool f = check<float>(path, file, what);
    const bool d = check<double>(path, file, what);
    if (f && d) fuzz::finding(describe(what, file) + ": accepted as both float32 and float64");
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
