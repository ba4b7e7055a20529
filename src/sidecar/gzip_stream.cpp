#include "sidecar/gzip_stream.h"

#include <zlib.h>

#include <cstdint>
#include <string>

#include "core/error.h"

namespace arl::sidecar {
namespace {

constexpr std::size_t kChunk = 64 * 1024;
constexpr int kGzipWindow = 15 + 16;  // 15-bit window, gzip wrapper (not zlib's)

std::string zerr(const z_stream& z, int rc) { return z.msg ? z.msg : ("zlib error " + std::to_string(rc)); }

}  // namespace

struct GzipWriter::Impl {
  z_stream z{};
  bool ok = false;
};

GzipWriter::GzipWriter(int level) : impl_(std::make_unique<Impl>()) {
  int rc = deflateInit2(&impl_->z, level, Z_DEFLATED, kGzipWindow, 8, Z_DEFAULT_STRATEGY);
  if (rc != Z_OK) throw Error(ErrorCode::internal, "archive: cannot start gzip: " + zerr(impl_->z, rc));
  impl_->ok = true;
}

GzipWriter::~GzipWriter() {
  if (impl_->ok) deflateEnd(&impl_->z);
}

void GzipWriter::write(const char* data, std::size_t n, std::string& out) {
  z_stream& z = impl_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
  z.avail_in = static_cast<uInt>(n);
  char buf[kChunk];
  while (z.avail_in > 0) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    int rc = deflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_BUF_ERROR) throw Error(ErrorCode::internal, "archive: gzip failed: " + zerr(z, rc));
    out.append(buf, sizeof buf - z.avail_out);
  }
}

void GzipWriter::finish(std::string& out) {
  z_stream& z = impl_->z;
  z.next_in = nullptr;
  z.avail_in = 0;
  char buf[kChunk];
  for (;;) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    int rc = deflate(&z, Z_FINISH);
    out.append(buf, sizeof buf - z.avail_out);
    if (rc == Z_STREAM_END) return;
    if (rc != Z_OK && rc != Z_BUF_ERROR) throw Error(ErrorCode::internal, "archive: gzip failed: " + zerr(z, rc));
  }
}

struct GzipReader::Impl {
  z_stream z{};
  bool ok = false;
  bool ended = false;
  Sink sink;
};

GzipReader::GzipReader(Sink sink) : impl_(std::make_unique<Impl>()) {
  impl_->sink = std::move(sink);
  int rc = inflateInit2(&impl_->z, kGzipWindow);
  if (rc != Z_OK) throw Error(ErrorCode::internal, "archive: cannot start gunzip: " + zerr(impl_->z, rc));
  impl_->ok = true;
}

GzipReader::~GzipReader() {
  if (impl_->ok) inflateEnd(&impl_->z);
}

void GzipReader::feed(const char* data, std::size_t n) {
  z_stream& z = impl_->z;
  if (impl_->ended) return;  // bytes after the trailer are ignored, as gzip -d does with padding
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
  z.avail_in = static_cast<uInt>(n);
  char buf[kChunk];
  // A full output buffer may leave more output pending even with no input left.
  do {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    int rc = inflate(&z, Z_NO_FLUSH);
    if (rc == Z_STREAM_END) impl_->ended = true;
    else if (rc == Z_BUF_ERROR && z.avail_out == sizeof buf) break;  // no progress: needs more input
    else if (rc != Z_OK && rc != Z_BUF_ERROR)
      throw Error(ErrorCode::invalid, "archive: not valid gzip data (" + zerr(z, rc) + ")");
    if (sizeof buf - z.avail_out > 0) impl_->sink(buf, sizeof buf - z.avail_out);
  } while ((z.avail_in > 0 || z.avail_out == 0) && !impl_->ended);
}

void GzipReader::finish() {
  if (!impl_->ended) throw Error(ErrorCode::invalid, "archive: the gzip stream is truncated");
}

std::uint64_t GzipReader::total_out() const { return impl_->z.total_out; }

}  // namespace arl::sidecar
