#pragma once
// Exception types shared by the tapegrad::io readers and writers.
#include <stdexcept>
#include <string>

namespace tg::io {

// The file was read, but its contents are malformed. The message names the file, the byte
// offset (in the decompressed stream for gzip input) and the problem.
class FormatError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The operating system refused an operation (open, read, write, rename, run a program). The
// message names the file and the system's reason.
class IoError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace tg::io
