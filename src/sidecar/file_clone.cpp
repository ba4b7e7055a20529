#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "sidecar/file_clone.h"

#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace arl::sidecar {
namespace {

[[noreturn]] void io_error(const std::string& what, int e) {
  if (e == ENOSPC || e == EDQUOT) throw StorageFull(what + ": " + std::strerror(e));
  throw Error(ErrorCode::internal, what + ": " + std::strerror(e));
}

bool refused(int e) { return e == EOPNOTSUPP || e == ENOTTY || e == EXDEV || e == EINVAL || e == ENOSYS || e == EBADF; }

// Copies from src at `in` to dst at `out` until src's EOF, or `limit` bytes.
std::uint64_t copy_range(int src, std::uint64_t in, int dst, std::uint64_t out, std::uint64_t limit, CloneState& state,
                         const std::string& what) {
  std::uint64_t done = 0;
  if (state.try_copy_range) {
    while (done < limit) {
      // off_t, not glibc's loff_t (musl has no loff_t here); both are the
      // same 64-bit type on the 64-bit targets we build.
      static_assert(sizeof(off_t) == 8);
      off_t i = static_cast<off_t>(in + done), o = static_cast<off_t>(out + done);
      ssize_t n = copy_file_range(src, &i, dst, &o, static_cast<size_t>(std::min<std::uint64_t>(limit - done, 1u << 30)), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && refused(errno) && done == 0) {
        state.try_copy_range = false;
        break;
      }
      if (n < 0) io_error(what, errno);
      if (n == 0) return done;
      done += static_cast<std::uint64_t>(n);
    }
    if (state.try_copy_range) return done;
  }
  static thread_local char buf[128 * 1024];
  while (done < limit) {
    ssize_t n = pread(src, buf, static_cast<size_t>(std::min<std::uint64_t>(sizeof buf, limit - done)), static_cast<off_t>(in + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) io_error(what, errno);
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = pwrite(dst, buf + off, static_cast<size_t>(n - off), static_cast<off_t>(out + done + off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) io_error(what, errno);
      off += w;
    }
    done += static_cast<std::uint64_t>(n);
  }
  return done;
}

bool read_full(int fd, char* buf, size_t n, off_t at) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = pread(fd, buf + got, n - got, at + static_cast<off_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    got += static_cast<size_t>(r);
  }
  return true;
}

constexpr std::uint64_t kCloneAlign = 4096;

}  // namespace

std::uint64_t append_to_pack(int src, int pack, std::uint64_t* pack_end, std::uint64_t* size, CloneState& state,
                             const std::string& what) {
  if (state.try_clone) {
    const std::uint64_t at = (*pack_end + kCloneAlign - 1) / kCloneAlign * kCloneAlign;
    file_clone_range r{static_cast<__s64>(src), 0, 0 /* to src's EOF */, at};
    if (ioctl(pack, FICLONERANGE, &r) == 0) {
      struct stat st;
      if (fstat(src, &st) != 0) io_error(what, errno);
      ++state.cloned;
      *size = static_cast<std::uint64_t>(st.st_size);
      *pack_end = at + *size;
      return at;
    }
    if (!refused(errno)) io_error(what, errno);
    state.try_clone = false;  // not this filesystem: pack densely from here on
  }
  const std::uint64_t at = *pack_end;
  // Up to the size fstat gave, not to EOF: one copy_file_range per file,
  // not a second one to find the end. A file that grows meanwhile changed
  // its ctime after our fstat, so a restore will not trust its record.
  *size = copy_range(src, 0, pack, at, *size, state, what);
  *pack_end = at + *size;
  return at;
}

void copy_from_pack(int src, std::uint64_t offset, std::uint64_t size, int dst, CloneState& state, const std::string& what) {
  if (copy_range(src, offset, dst, 0, size, state, what) != size) io_error(what + " (checkpoint data is short)", EIO);
}

bool same_content(int file, int pack, std::uint64_t offset, std::uint64_t size) {
  static thread_local char ba[64 * 1024], bb[64 * 1024];
  for (std::uint64_t at = 0; at < size;) {
    size_t n = static_cast<size_t>(std::min<std::uint64_t>(sizeof ba, size - at));
    if (!read_full(file, ba, n, static_cast<off_t>(at)) || !read_full(pack, bb, n, static_cast<off_t>(offset + at)))
      return false;
    if (std::memcmp(ba, bb, n) != 0) return false;
    at += n;
  }
  char c;
  return pread(file, &c, 1, static_cast<off_t>(size)) == 0;  // not longer than `size`
}

}  // namespace arl::sidecar
