#pragma once
// gzip over zlib for checkpoint archives, one piece at a time so neither side
// ever holds a whole archive (checkpoint_archive.h).
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace arl::sidecar {

class GzipWriter {
 public:
  /// `level` 1..9. The archive routes use 1: a fork waits on the export, and
  /// level 1 deflates several times faster than the default 6 for a few
  /// percent more bytes on source trees.
  explicit GzipWriter(int level);
  ~GzipWriter();
  GzipWriter(const GzipWriter&) = delete;
  GzipWriter& operator=(const GzipWriter&) = delete;

  /// Compresses `n` bytes, appending whatever output is ready to `out`.
  void write(const char* data, std::size_t n, std::string& out);
  /// Flushes the rest and the gzip trailer into `out`.
  void finish(std::string& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class GzipReader {
 public:
  using Sink = std::function<void(const char* data, std::size_t n)>;
  explicit GzipReader(Sink sink);
  ~GzipReader();
  GzipReader(const GzipReader&) = delete;
  GzipReader& operator=(const GzipReader&) = delete;

  /// Decompresses `n` bytes, passing the output to the sink. Throws
  /// Error{invalid} for data that is not gzip.
  void feed(const char* data, std::size_t n);
  /// Throws Error{invalid} when the stream ended before its trailer.
  void finish();
  /// Decompressed bytes so far.
  std::uint64_t total_out() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace arl::sidecar
