// libFuzzer target for the IDX readers: tg::io::load_idx_images, load_idx_labels and
// load_fashion_mnist(dir, split).
//
// Each input is used three ways:
//  1. as the file itself (plain IDX, or a gzip stream if it starts with 1f 8b);
//  2. gzip-compressed by the harness, so the loader's streaming gzip path sees every plain
//     input too (a mutated raw gzip stream rarely decompresses to anything interesting);
//  3. if it starts with the image magic 00 00 08 03 and contains the label magic 00 00 08 01
//     further on, split there into an images file and a labels file and loaded as a
//     Fashion-MNIST directory (plain names for "train", .gz names for "t10k").
//
// Oracles, besides the sanitizers and "only FormatError / IoError / invalid_argument":
//  - a reference model of the format (below, 20 lines) decides whether the decompressed
//    content is valid; the loader must succeed exactly when the model says so, and then return
//    exactly the model's pixels / labels;
//  - the largest single allocation is bounded by the content actually present (fuzz_common.hpp).
//
// The first campaign's finding here (a gzip stream that ends before its CRC32/ISIZE trailer was
// accepted; docs/reliability.md) is fixed; its input is the seed labels_2_gz_no_trailer.
#include "fuzz_common.hpp"

#include "tapegrad/io/idx.hpp"

#include <zlib.h>

#include <sys/stat.h>


namespace {

using fuzz::Bytes;
using fuzz::Outcome;

constexpr std::uint64_t kLimit = tg::io::kMaxIdxBytes;

// What zlib's gzread yields for a file: the bytes, and whether the stream was corrupt.
// gzread does not report a gzip stream that ends early (for example without its 8-byte CRC32 /
// ISIZE trailer): it returns the data and only gzerror() says Z_BUF_ERROR. The loader documents
// truncated input as an error, so the model counts that as corrupt too.
struct Decoded {
    Bytes content;
    bool corrupt = false;
    bool truncated_gzip = false;
};

Decoded gz_decode(const std::string& path) {
    Decoded d;
    gzFile f = gzopen(path.c_str(), "rb");
    if (f == nullptr) fuzz::finding("harness: gzopen failed on " + path);
    std::uint8_t buf[1 << 16];
    for (;;) {
        const int got = gzread(f, buf, sizeof buf);
        if (got < 0) {
            d.corrupt = true;
            break;
        }
        if (got == 0) {
            int code = Z_OK;
            gzerror(f, &code);
            d.truncated_gzip = code == Z_BUF_ERROR;
            if (d.truncated_gzip) d.corrupt = true;
            break;
        }
        d.content.insert(d.content.end(), buf, buf + got);
    }
    gzclose(f);
    return d;
}

Bytes gzip(const std::uint8_t* data, std::size_t size) {
    z_stream s{};
    if (deflateInit2(&s, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) fuzz::finding("harness: deflateInit2");
    Bytes out(deflateBound(&s, static_cast<uLong>(size)) + 32);
    s.next_in = const_cast<Bytef*>(data);
    s.avail_in = static_cast<uInt>(size);
    s.next_out = out.data();
    s.avail_out = static_cast<uInt>(out.size());
    if (deflate(&s, Z_FINISH) != Z_STREAM_END) fuzz::finding("harness: deflate");
    out.resize(s.total_out);
    deflateEnd(&s);
    return out;
}

// ---- reference model of the format -----------------------------------------------------------

struct RefImages {
    bool ok = false;
    std::uint64_t n = 0, rows = 0, cols = 0;
};
RefImages ref_images(const Bytes& c) {
    RefImages r;
    if (c.size() < 16 || fuzz::be32(c.data()) != 0x00000803) return r;
    r.n = fuzz::be32(&c[4]);
    r.rows = fuzz::be32(&c[8]);
    r.cols = fuzz::be32(&c[12]);
    if (r.n == 0 || r.rows == 0 || r.cols == 0) return r;
    const std::uint64_t per = r.rows * r.cols;
    if (per > kLimit || r.n > kLimit / per) return r;
    r.ok = c.size() - 16 == r.n * per;
    return r;
}

struct RefLabels {
    bool ok = false;
    std::uint64_t n = 0;
};
RefLabels ref_labels(const Bytes& c) {
    RefLabels r;
    if (c.size() < 8 || fuzz::be32(c.data()) != 0x00000801) return r;
    r.n = fuzz::be32(&c[4]);
    r.ok = r.n != 0 && r.n <= kLimit && c.size() - 8 == r.n;
    return r;
}

// ---- checks ------------------------------------------------------------------------------------

std::string describe(const char* what, const Bytes& file) {
    return std::string(what) + " (file " + std::to_string(file.size()) + " bytes: " + fuzz::hex(file.data(), file.size()) + ")";
}

void check_failure_kind(Outcome o, const std::string& msg, const char* what, const Bytes& file) {
    // The file exists and is readable, so a rejection must be a FormatError.
    if (o != Outcome::format_error) {
        fuzz::finding(describe(what, file) + ": rejected with " + fuzz::name(o) + " instead of FormatError: " + msg);
    }
}

// Runs `load` on a file and checks the outcome against the reference model's verdict: a valid
// file must load, an invalid one must be refused with a FormatError, and the loader's largest
// allocation must stay within what the file holds. Returns true when it loaded.
template <class Load>
bool matches_reference(const Decoded& dec, bool ref_ok, const Load& load, const char* kind, const Bytes& file, const char* what) {
    std::string msg;
    Outcome o;
    {
        fuzz::AllocScope scope;
        o = fuzz::expect(load, &msg);
        fuzz::check_alloc(scope, dec.content.size(), what);
    }
    if (o != Outcome::ok) {
        if (ref_ok) fuzz::finding(describe(what, file) + ": valid " + kind + " file rejected: " + msg);
        check_failure_kind(o, msg, what, file);
        return false;
    }
    if (!ref_ok) {
        fuzz::finding(describe(what, file) + (dec.truncated_gzip ? std::string(": truncated gzip stream (no complete trailer) accepted as ") + kind
                                                                 : std::string(": invalid ") + kind + " file accepted"));
    }
    return true;
}

void check_images(const std::string& path, const Bytes& file, const char* what) {
    const Decoded dec = gz_decode(path);
    const RefImages ref = dec.corrupt ? RefImages{} : ref_images(dec.content);
    tg::Matrix<float> m;
    std::size_t rows = 0, cols = 0;
    if (!matches_reference(dec, ref.ok, [&] { m = tg::io::load_idx_images(path, &rows, &cols); }, "images", file, what)) return;
    if (m.shape()[0] != ref.n || m.shape()[1] != ref.rows * ref.cols || rows != ref.rows || cols != ref.cols) {
        fuzz::finding(describe(what, file) + ": wrong shape");
    }
    const float* p = m.data();
    for (std::size_t i = 0; i < m.size(); ++i) {
        if (p[i] != static_cast<float>(dec.content[16 + i]) / 255.0f) fuzz::finding(describe(what, file) + ": wrong pixel value");
    }
}

void check_labels(const std::string& path, const Bytes& file, const char* what) {
    const Decoded dec = gz_decode(path);
    const RefLabels ref = dec.corrupt ? RefLabels{} : ref_labels(dec.content);
    std::vector<std::uint8_t> l;
    if (!matches_reference(dec, ref.ok, [&] { l = tg::io::load_idx_labels(path); }, "labels", file, what)) return;
    if (l != Bytes(dec.content.begin() + 8, dec.content.end())) fuzz::finding(describe(what, file) + ": wrong labels");
}

void check_file(const std::string& path, const Bytes& file, const char* what) {
    check_images(path, file, what);
    check_labels(path, file, what);
}

// ---- Fashion-MNIST directory ------------------------------------------------------------------

std::string g_dir;

void check_dataset(const std::uint8_t* data, std::size_t size) {
    if (size < 8 || fuzz::be32(data) != 0x00000803) return;
    std::size_t split = 0;
    for (std::size_t i = 4; i + 4 <= size; ++i) {
        if (fuzz::be32(data + i) == 0x00000801) {
            split = i;
            break;
        }
    }
    if (split == 0) return;
    const Bytes images(data, data + split), labels(data + split, data + size);
    const RefImages ri = ref_images(images);
    const RefLabels rl = ref_labels(labels);
    bool ref_ok = ri.ok && rl.ok && ri.n == rl.n;
    for (std::size_t i = 8; ref_ok && i < labels.size(); ++i) ref_ok = labels[i] <= 9;

    const Bytes gz_images = gzip(images.data(), images.size()), gz_labels = gzip(labels.data(), labels.size());
    fuzz::write_file(g_dir + "/train-images-idx3-ubyte", images.data(), images.size());
    fuzz::write_file(g_dir + "/train-labels-idx1-ubyte", labels.data(), labels.size());
    fuzz::write_file(g_dir + "/t10k-images-idx3-ubyte.gz", gz_images.data(), gz_images.size());
    fuzz::write_file(g_dir + "/t10k-labels-idx1-ubyte.gz", gz_labels.data(), gz_labels.size());
    const Bytes all(data, data + size);
    for (const char* split_name : {"train", "t10k"}) {
        tg::io::Dataset ds;
        std::string msg;
        Outcome o;
        {
            fuzz::AllocScope scope;
            o = fuzz::expect([&] { ds = tg::io::load_fashion_mnist(g_dir, split_name); }, &msg);
            fuzz::check_alloc(scope, size, "load_fashion_mnist");
        }
        if (o != Outcome::ok) {
            if (ref_ok) fuzz::finding(describe("load_fashion_mnist", all) + ": valid dataset rejected: " + msg);
            check_failure_kind(o, msg, "load_fashion_mnist", all);
            continue;
        }
        if (!ref_ok) fuzz::finding(describe("load_fashion_mnist", all) + ": invalid dataset accepted (split " + split_name + ")");
        if (ds.images.shape()[0] != ri.n || ds.rows != ri.rows || ds.cols != ri.cols ||
            ds.labels != Bytes(labels.begin() + 8, labels.end())) {
            fuzz::finding(describe("load_fashion_mnist", all) + ": wrong contents");
        }
    }
}

fuzz::MemFile* g_raw = nullptr;
fuzz::MemFile* g_gz = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz::install_alloc_hooks();
    g_raw = new fuzz::MemFile("idx-raw");
    g_gz = new fuzz::MemFile("idx-gz");
    g_dir = fuzz::make_scratch_dir("idx");
    std::atexit([] {
        for (const char* f : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte.gz",
                              "t10k-labels-idx1-ubyte.gz"}) {
            ::unlink((g_dir + "/" + f).c_str());
        }
        ::rmdir(g_dir.c_str());
    });
    // A split other than train / t10k is a caller error, not a file error.
    std::string msg;
    if (fuzz::expect([] { tg::io::load_fashion_mnist(g_dir, "valid"); }, &msg) != Outcome::invalid_argument) {
        fuzz::finding("load_fashion_mnist(dir, \"valid\") did not throw std::invalid_argument: " + msg);
    }
    // A missing file is an IoError.
    if (fuzz::expect([] { tg::io::load_idx_labels(g_dir + "/missing"); }, &msg) != Outcome::io_error) {
        fuzz::finding("a missing file did not raise IoError: " + msg);
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const Bytes file(data, data + size);
    g_raw->write(data, size);
    check_file(g_raw->path(), file, "raw input");

    const Bytes gz = gzip(data, size);
    g_gz->write(gz);
    check_file(g_gz->path(), gz, "gzip-compressed input");

    check_dataset(data, size);
    return 0;
}
