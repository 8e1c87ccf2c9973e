#pragma once
// Shared pieces of the libFuzzer targets (fuzz_idx, fuzz_npy, fuzz_checkpoint).
//
// - MemFile: the loaders take paths, so every input is written to an in-memory file
//   (memfd_create, opened again through /proc/self/fd/N); no disk I/O per execution.
// - expect(): runs a loader and classifies the outcome. tg::io::FormatError, tg::io::IoError
//   and std::invalid_argument are the documented ways to reject input; any other exception
//   is reported as a finding (abort, so libFuzzer saves the input as crash-*).
// - AllocScope: records the largest single allocation made while a loader runs, through the
//   sanitizer allocator's malloc hook; check_alloc() turns "a header claiming a huge size made
//   the loader allocate far more than the file holds" into a finding long before libFuzzer's
//   -malloc_limit_mb would.
// - finding(): prints the reason and aborts.
// - ignored(id): TG_FUZZ_IGNORE=id1,id2 skips known findings, so that fuzzing can go on past a
//   reported one until it is fixed (no target has an open id at present).
#include "tapegrad/io/errors.hpp"

#include <sanitizer/allocator_interface.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <typeinfo>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

namespace fuzz {

using Bytes = std::vector<std::uint8_t>;

[[noreturn]] inline void finding(const std::string& what) {
    std::fprintf(stderr, "\n==FUZZ FINDING== %s\n", what.c_str());
    std::fflush(stderr);
    std::abort();
}

// An in-memory file with a stable path. Falls back to a file in /dev/shm (or $TMPDIR, /tmp)
// where memfd_create is unavailable.
class MemFile {
public:
    explicit MemFile(const char* name) {
        fd_ = ::memfd_create(name, MFD_CLOEXEC);
        if (fd_ >= 0) {
            path_ = "/proc/self/fd/" + std::to_string(fd_);
            if (::access(path_.c_str(), R_OK) == 0) return;
            ::close(fd_);
        }
        const char* dirs[] = {"/dev/shm", std::getenv("TMPDIR"), "/tmp"};
        for (const char* d : dirs) {
            if (d == nullptr) continue;
            path_ = std::string(d) + "/tg-fuzz-" + std::to_string(::getpid()) + "-" + name;
            fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (fd_ >= 0) {
                unlink_ = true;
                return;
            }
        }
        finding(std::string("harness: cannot create a scratch file: ") + std::strerror(errno));
    }
    ~MemFile() {
        ::close(fd_);
        if (unlink_) ::unlink(path_.c_str());
    }
    MemFile(const MemFile&) = delete;
    MemFile& operator=(const MemFile&) = delete;

    void write(const std::uint8_t* data, std::size_t size) {
        if (::ftruncate(fd_, 0) != 0) finding("harness: ftruncate failed");
        std::size_t done = 0;
        while (done < size) {
            const ssize_t w = ::pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) finding(std::string("harness: pwrite failed: ") + std::strerror(errno));
            done += static_cast<std::size_t>(w);
        }
    }
    void write(const Bytes& b) { write(b.data(), b.size()); }
    const std::string& path() const { return path_; }

private:
    int fd_ = -1;
    std::string path_;
    bool unlink_ = false;
};

// Writes a regular file (for loaders that look files up by name in a directory).
inline void write_file(const std::string& path, const std::uint8_t* data, std::size_t size) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) finding("harness: cannot write " + path + ": " + std::strerror(errno));
    std::size_t done = 0;
    while (done < size) {
        const ssize_t w = ::write(fd, data + done, size - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) finding("harness: write failed: " + path);
        done += static_cast<std::size_t>(w);
    }
    ::close(fd);
}

// A private scratch directory, <base>/tg-fuzz-<kind>-<pid>-XXXXXX, in /dev/shm when it is
// writable. Directories left by earlier processes that no longer exist (a finding aborts, and
// abort skips atexit) are removed first. The caller removes its own at exit.
inline std::string make_scratch_dir(const std::string& kind) {
    std::string base = "/tmp";
    if (::access("/dev/shm", W_OK) == 0) base = "/dev/shm";
    else if (const char* t = std::getenv("TMPDIR")) base = t;
    const std::string prefix = "tg-fuzz-" + kind + "-";
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(base, ec)) {
        const std::string name = e.path().filename().string();
        if (name.rfind(prefix, 0) != 0) continue;
        const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
        if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) std::filesystem::remove_all(e.path(), ec);
    }
    std::string tmpl = base + "/" + prefix + std::to_string(::getpid()) + "-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) finding("harness: mkdtemp failed in " + base + ": " + std::strerror(errno));
    return tmpl;
}

// ---- allocation tracking ------------------------------------------------------------------

inline std::atomic<bool> g_track{false};
inline std::atomic<std::size_t> g_max_alloc{0};

inline void malloc_hook(const volatile void*, std::size_t size) {
    if (!g_track.load(std::memory_order_relaxed)) return;
    std::size_t cur = g_max_alloc.load(std::memory_order_relaxed);
    while (size > cur && !g_max_alloc.compare_exchange_weak(cur, size, std::memory_order_relaxed)) {
    }
}
inline void free_hook(const volatile void*) {}

// Call once from LLVMFuzzerInitialize.
inline void install_alloc_hooks() {
    if (__sanitizer_install_malloc_and_free_hooks(malloc_hook, free_hook) == 0) {
        std::fprintf(stderr, "fuzz: warning: could not install malloc hooks; allocation bound not checked\n");
    }
}

class AllocScope {
public:
    AllocScope() {
        g_max_alloc.store(0, std::memory_order_relaxed);
        g_track.store(true, std::memory_order_relaxed);
    }
    ~AllocScope() { g_track.store(false, std::memory_order_relaxed); }
    std::size_t largest() const { return g_max_alloc.load(std::memory_order_relaxed); }
};

// A loader may allocate a fixed amount (buffers, zlib state, a 4 MiB read-ahead) plus a small
// multiple of the data it actually read (bytes -> floats is 4x, doubling growth 2x more);
// anything beyond that means it trusted a size field.
inline constexpr std::size_t kAllocSlack = std::size_t{8} << 20;
inline constexpr std::size_t kAllocFactor = 16;

inline void check_alloc(const AllocScope& scope, std::size_t content_bytes, const char* what) {
    const std::size_t limit = kAllocSlack + kAllocFactor * content_bytes;
    if (scope.largest() > limit) {
        finding(std::string(what) + ": allocated " + std::to_string(scope.largest()) +
                " bytes in one block for an input of " + std::to_string(content_bytes) +
                " bytes (bound " + std::to_string(limit) + ")");
    }
}

// ---- outcome classification --------------------------------------------------------------

enum class Outcome { ok, format_error, io_error, invalid_argument };

inline const char* name(Outcome o) {
    switch (o) {
        case Outcome::ok: return "ok";
        case Outcome::format_error: return "FormatError";
        case Outcome::io_error: return "IoError";
        case Outcome::invalid_argument: return "invalid_argument";
    }
    return "?";
}

struct Stats {
    unsigned long long calls = 0, ok = 0, format = 0, io = 0, invalid = 0;
    std::string first_io;
    ~Stats() {
        if (calls == 0) return;
        std::fprintf(stderr, "fuzz: loader calls %llu: ok %llu, FormatError %llu, IoError %llu, invalid_argument %llu\n",
                     calls, ok, format, io, invalid);
        if (!first_io.empty()) std::fprintf(stderr, "fuzz: first IoError: %s\n", first_io.c_str());
    }
};
inline Stats g_stats;

// Messages ("<path>: <text>") that mean the loader contradicted its own validation on a file
// that did not change while it was read (the scratch files are private to this process): a
// finding even though the type is FormatError. Matched as a prefix after the path, because
// other messages quote header text, which the fuzzer controls.
inline const char* const kInternalInconsistency[] = {
    "xtensor's npy reader rejected a validated header",
    "read failed, or the file changed while being read",
};

// Runs f(); returns how it ended. `message` receives the exception text. `path` is the file
// being loaded (for the kInternalInconsistency check; empty: no check).
// TG_FUZZ_VERBOSE=1 prints every expected exception (to see why inputs are rejected).
inline bool verbose() {
    static const bool v = std::getenv("TG_FUZZ_VERBOSE") != nullptr && std::string(std::getenv("TG_FUZZ_VERBOSE")) == "1";
    return v;
}

template <class F>
Outcome expect(F&& f, std::string* message = nullptr, const std::string& path = {}) {
    ++g_stats.calls;
    try {
        try {
            f();
        } catch (const std::exception& e) {
            if (verbose()) std::fprintf(stderr, "fuzz: %s: %s\n", typeid(e).name(), e.what());
            throw;
        }
        ++g_stats.ok;
        return Outcome::ok;
    } catch (const tg::io::FormatError& e) {
        if (!path.empty()) {
            const std::string text = e.what();
            for (const char* bad : kInternalInconsistency) {
                if (text.rfind(path + ": " + bad, 0) == 0) finding("inconsistent FormatError: " + text);
            }
        }
        ++g_stats.format;
        if (message) *message = e.what();
        return Outcome::format_error;
    } catch (const tg::io::IoError& e) {
        ++g_stats.io;
        if (g_stats.first_io.empty()) g_stats.first_io = e.what();
        if (message) *message = e.what();
        return Outcome::io_error;
    } catch (const std::invalid_argument& e) {
        ++g_stats.invalid;
        if (message) *message = e.what();
        return Outcome::invalid_argument;
    } catch (const std::exception& e) {
        finding(std::string("unexpected exception ") + typeid(e).name() + ": " + e.what());
    } catch (...) {
        finding("unexpected non-std exception");
    }
}

// Known findings can be skipped so that fuzzing continues past them (and CI stays usable until
// they are fixed): TG_FUZZ_IGNORE is a comma-separated list of the ids the targets document.
inline bool ignored(const char* id) {
    const char* e = std::getenv("TG_FUZZ_IGNORE");
    if (e == nullptr) return false;
    const std::string list = std::string(",") + e + ",";
    return list.find(std::string(",") + id + ",") != std::string::npos;
}

inline std::uint32_t be32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
}

inline std::string hex(const std::uint8_t* p, std::size_t n, std::size_t max = 64) {
    std::string s;
    char buf[4];
    for (std::size_t i = 0; i < n && i < max; ++i) {
        std::snprintf(buf, sizeof buf, "%02x", p[i]);
        s += buf;
    }
    if (n > max) s += "...";
    return s;
}

}  // namespace fuzz
