#pragma once
// Crash-safe file replacement: readers of `path` see either the old contents or the complete
// new ones, never a half-written file (a training run killed mid-checkpoint keeps the previous
// checkpoint).
#include <functional>
#include <ostream>
#include <string>

namespace tg::io {

// Calls `writer` with a binary stream on a temporary file beside `path`
// (`path.tmp.<pid>.<n>`, so concurrent writers never share one), flushes it, fsyncs it, renames
// it over `path` and fsyncs the directory. If `writer` throws, or any step fails, the temporary
// file is removed, `path` is left untouched, and the exception propagates (tg::io::IoError for
// system failures, including a stream the writer left in a failed state).
void write_file_atomically(const std::string& path,
                           const std::function<void(std::ostream&)>& writer);

}  // namespace tg::io
