#include "tapegrad/io/atomic_file.hpp"

#include "tapegrad/io/errors.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <streambuf>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tg::io {
namespace {

[[noreturn]] void throw_errno(const std::string& what, const std::string& path, int err) {
    throw IoError(path + ": " + what + ": " + std::strerror(err));
}

// std::ofstream hides its file descriptor, and fsync needs one; this small buffer writes to a
// descriptor we own. Write errors are remembered rather than thrown so that they surface at
// the explicit flush below with the errno intact.
class FdStreambuf : public std::streambuf {
public:
    explicit FdStreambuf(int fd) : fd_(fd), buf_(1 << 16) { setp(buf_.data(), buf_.data() + buf_.size()); }
    int error() const { return error_; }

protected:
    int_type overflow(int_type ch) override {
        if (!drain()) return traits_type::eof();
        if (!traits_type::eq_int_type(ch, traits_type::eof())) {
            *pptr() = traits_type::to_char_type(ch);
            pbump(1);
        }
        return traits_type::not_eof(ch);
    }
    int sync() override { return drain() ? 0 : -1; }
    std::streamsize xsputn(const char* s, std::streamsize n) override {
        // Large blocks (tensor data) bypass the buffer.
        if (n >= static_cast<std::streamsize>(buf_.size())) {
            if (!drain() || !write_all(s, static_cast<std::size_t>(n))) return 0;
            return n;
        }
        return std::streambuf::xsputn(s, n);
    }

private:
    bool write_all(const char* p, std::size_t n) {
        while (n > 0) {
            ssize_t w = ::write(fd_, p, n);
            if (w < 0) {
                if (errno == EINTR) continue;
                error_ = errno;
                return false;
            }
            p += w;
            n -= static_cast<std::size_t>(w);
        }
        return true;
    }
    bool drain() {
        if (error_ != 0) return false;
        const std::size_t n = static_cast<std::size_t>(pptr() - pbase());
        const bool ok = write_all(pbase(), n);
        setp(buf_.data(), buf_.data() + buf_.size());
        return ok;
    }

    int fd_;
    int error_ = 0;
    std::vector<char> buf_;
};

std::string temp_name_for(const std::string& path) {
    static std::atomic<unsigned long> counter{0};
    return path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
}

// Without this the rename itself may be lost on power failure even though the data was synced.
void fsync_directory_of(const std::string& path) {
    std::filesystem::path dir = std::filesystem::path(path).parent_path();
    if (dir.empty()) dir = ".";
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return;  // best effort: the file itself is already durable
    ::fsync(dfd);
    ::close(dfd);
}

}  // namespace

void write_file_atomically(const std::string& path,
                           const std::function<void(std::ostream&)>& writer) {
    const std::string tmp = temp_name_for(path);
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) throw_errno("cannot create temporary file " + tmp, path, errno);

    auto fail = [&](const std::string& what, int err) {
        if (fd >= 0) ::close(fd);
        fd = -1;
        ::unlink(tmp.c_str());
        throw_errno(what, path, err);
    };
    int write_error = 0;
    try {
        FdStreambuf buf(fd);
        std::ostream os(&buf);
        writer(os);
        os.flush();
        write_error = buf.error() != 0 ? buf.error() : (!os ? EIO : 0);
    } catch (...) {
        ::close(fd);
        ::unlink(tmp.c_str());
        throw;
    }
    if (write_error != 0) fail("writing " + tmp + " failed", write_error);
    if (::fsync(fd) != 0) fail("fsync of " + tmp + " failed", errno);
    const int rc = ::close(fd);
    fd = -1;
    if (rc != 0) fail("closing " + tmp + " failed", errno);
    if (::rename(tmp.c_str(), path.c_str()) != 0) fail("cannot rename " + tmp + " over it", errno);
    fsync_directory_of(path);
}

}  // namespace tg::io
