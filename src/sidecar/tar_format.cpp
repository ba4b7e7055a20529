#include "sidecar/tar_format.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "core/error.h"

namespace arl::sidecar::tar {
namespace {

// ustar header layout (POSIX.1-1988): offset and width of each field.
constexpr std::size_t kName = 0, kNameLen = 100;
constexpr std::size_t kMode = 100, kUid = 108, kGid = 116, kIdLen = 8;
constexpr std::size_t kSize = 124, kMtime = 136, kNumLen = 12;
constexpr std::size_t kChksum = 148, kChksumLen = 8;
constexpr std::size_t kType = 156;
constexpr std::size_t kLinkname = 157, kLinknameLen = 100;
constexpr std::size_t kMagic = 257, kVersion = 263;
constexpr std::size_t kPrefix = 345, kPrefixLen = 155;

// `width` includes the terminating NUL: width - 1 octal digits.
void put_octal(char* field, std::size_t width, std::uint64_t v) {
  std::memset(field, '0', width - 1);
  field[width - 1] = '\0';
  for (std::size_t i = width - 1; i > 0 && v; --i, v >>= 3) field[i - 1] = static_cast<char>('0' + (v & 7));
}

bool fits_octal(std::uint64_t v, std::size_t digits) { return digits >= 21 || v < (1ull << (3 * digits)); }

std::size_t decimal_digits(std::size_t v) {
  std::size_t d = 1;
  while (v >= 10) v /= 10, ++d;
  return d;
}

// "LEN key=value\n", where LEN counts the whole record, itself included.
void pax_record(std::string& out, std::string_view key, std::string_view value) {
  const std::size_t base = key.size() + value.size() + 3;  // ' ', '=', '\n'
  std::size_t len = base + decimal_digits(base);
  if (decimal_digits(len) != decimal_digits(base)) len = base + decimal_digits(len);
  out += fmt::format("{} ", len);
  out += key;
  out += '=';
  out += value;
  out += '\n';
}

unsigned checksum_of(const char* b) {
  unsigned sum = 0;
  for (std::size_t i = 0; i < kBlock; ++i)
    sum += (i >= kChksum && i < kChksum + kChksumLen) ? ' ' : static_cast<unsigned char>(b[i]);
  return sum;
}

void header_block(std::string& out, char type, std::string_view name, std::string_view linkname, std::uint32_t mode,
                  std::uint64_t size, std::int64_t mtime) {
  char b[kBlock] = {};
  std::memcpy(b + kName, name.data(), std::min(name.size(), kNameLen));
  put_octal(b + kMode, kIdLen, mode & 07777);
  put_octal(b + kUid, kIdLen, 0);
  put_octal(b + kGid, kIdLen, 0);
  put_octal(b + kSize, kNumLen, fits_octal(size, kNumLen - 1) ? size : 0);
  put_octal(b + kMtime, kNumLen, mtime > 0 && fits_octal(static_cast<std::uint64_t>(mtime), kNumLen - 1) ? mtime : 0);
  b[kType] = type;
  std::memcpy(b + kLinkname, linkname.data(), std::min(linkname.size(), kLinknameLen));
  std::memcpy(b + kMagic, "ustar", 6);  // with its NUL
  std::memcpy(b + kVersion, "00", 2);
  const unsigned sum = checksum_of(b);
  put_octal(b + kChksum, 7, sum);  // six digits, NUL, then a space: the traditional layout
  b[kChksum + 7] = ' ';
  out.append(b, kBlock);
}

[[noreturn]] void not_tar(std::uint64_t member, std::uint64_t offset, const std::string& what) {
  throw Error(ErrorCode::invalid, fmt::format("archive: header {} (byte {}): {}", member + 1, offset, what));
}

// Octal (NUL- or space-terminated, leading spaces allowed) or GNU base-256
// (high bit of the first byte set), as tar writes numbers.
std::uint64_t parse_number(const char* f, std::size_t width, std::uint64_t member, std::uint64_t offset,
                           const char* field) {
  const auto* u = reinterpret_cast<const unsigned char*>(f);
  if (u[0] & 0x80) {
    if (u[0] != 0x80) not_tar(member, offset, fmt::format("{}: negative or oversized base-256 number", field));
    std::uint64_t v = 0;
    for (std::size_t i = 1; i < width; ++i) {
      if (v >> 56) not_tar(member, offset, fmt::format("{}: number too large", field));
      v = (v << 8) | u[i];
    }
    return v;
  }
  std::size_t i = 0;
  while (i < width && f[i] == ' ') ++i;
  std::uint64_t v = 0;
  for (; i < width && f[i] != '\0' && f[i] != ' '; ++i) {
    if (f[i] < '0' || f[i] > '7') not_tar(member, offset, fmt::format("{}: not an octal number", field));
    v = (v << 3) | static_cast<std::uint64_t>(f[i] - '0');
  }
  return v;
}

std::string field_string(const char* f, std::size_t width) { return std::string(f, strnlen(f, width)); }

}  // namespace

void write_header(std::string& out, const Entry& e) {
  const bool long_path = e.path.size() > kNameLen;
  const bool long_link = e.linkpath.size() > kLinknameLen;
  const bool big = !fits_octal(e.size, kNumLen - 1);
  if (long_path || long_link || big) {
    std::string pax;
    if (long_path) pax_record(pax, "path", e.path);
    if (long_link) pax_record(pax, "linkpath", e.linkpath);
    if (big) pax_record(pax, "size", std::to_string(e.size));
    header_block(out, kPaxNext, "././@PaxHeader", "", 0644, pax.size(), e.mtime);
    out += pax;
    out.append(padding(pax.size()), '\0');
  }
  // The ustar fields still get the first 100 bytes, for readers without PAX.
  header_block(out, e.type, e.path, e.linkpath, e.mode, e.size, e.mtime);
}

std::size_t padding(std::uint64_t size) { return static_cast<std::size_t>((kBlock - size % kBlock) % kBlock); }

std::string_view end_of_archive() {
  static const std::string blocks(2 * kBlock, '\0');
  return blocks;
}

void Reader::feed(const char* data, std::size_t n) {
  while (n > 0) {
    std::size_t take = 0;
    switch (state_) {
      case State::ended: return;  // what follows the end marker (more zero blocks) is ignored
      case State::header:
        if (buf_.empty()) header_at_ = offset_;
        take = std::min(n, kBlock - buf_.size());
        buf_.append(data, take);
        if (buf_.size() == kBlock) {
          on_header_block();
          buf_.clear();
        }
        break;
      case State::extended:
        take = static_cast<std::size_t>(std::min<std::uint64_t>(n, want_));
        buf_.append(data, take);
        want_ -= take;
        if (want_ == 0) on_extended_done();
        break;
      case State::data:
        take = static_cast<std::size_t>(std::min<std::uint64_t>(n, want_));
        handler_.on_data(data, take);
        want_ -= take;
        if (want_ == 0) {
          want_ = padding_after_;
          state_ = want_ ? State::padding : State::header;
        }
        break;
      case State::padding:
        take = static_cast<std::size_t>(std::min<std::uint64_t>(n, want_));
        want_ -= take;
        if (want_ == 0) state_ = State::header;
        break;
    }
    data += take;
    n -= take;
    offset_ += take;
  }
}

void Reader::on_header_block() {
  const char* b = buf_.data();
  const std::uint64_t at = header_at_;
  if (std::string_view(b, kBlock) == end_of_archive().substr(0, kBlock)) {
    // One zero block ends it; the second (and any record padding) is ignored.
    state_ = State::ended;
    return;
  }
  const auto stored = parse_number(b + kChksum, kChksumLen, members_, at, "checksum");
  if (stored != checksum_of(b)) not_tar(members_, at, "bad header checksum: not a tar archive, or a corrupt one");
  const char type = b[kType];
  std::uint64_t size = parse_number(b + kSize, kNumLen, members_, at, "size");
  if (next_size_set_) size = next_size_;
  ++members_;
  if (type == kPaxNext || type == kPaxGlobal || type == kGnuLongName || type == kGnuLongLink) {
    if (size > kMaxExtendedBytes)
      not_tar(members_ - 1, at, fmt::format("extended header of {} bytes (at most {})", size, kMaxExtendedBytes));
    extended_type_ = type;
    want_ = size;
    padding_after_ = padding(size);
    state_ = State::extended;
    if (want_ == 0) on_extended_done();
    return;
  }
  Entry e;
  e.type = type;
  e.path = next_path_;
  if (e.path.empty()) {
    e.path = field_string(b + kName, kNameLen);
    // POSIX ustar splits long names into prefix + name; GNU's "ustar  " magic
    // uses that area for other fields.
    if (std::memcmp(b + kMagic, "ustar\0" "00", 8) == 0 && b[kPrefix] != '\0')
      e.path = field_string(b + kPrefix, kPrefixLen) + "/" + e.path;
  }
  e.linkpath = next_linkpath_.empty() ? field_string(b + kLinkname, kLinknameLen) : next_linkpath_;
  e.mode = static_cast<std::uint32_t>(parse_number(b + kMode, kIdLen, members_ - 1, at, "mode") & 07777);
  e.mtime = static_cast<std::int64_t>(parse_number(b + kMtime, kNumLen, members_ - 1, at, "mtime") & 0x7fffffffffffffffull);
  e.size = size;
  next_path_.clear();
  next_linkpath_.clear();
  next_size_set_ = false;
  current_ = e.path;
  handler_.on_entry(e);
  want_ = size;
  padding_after_ = padding(size);
  state_ = want_ ? State::data : State::header;
}

void Reader::on_extended_done() {
  auto until_nul = [](const std::string& s) { return s.substr(0, s.find('\0')); };
  const std::uint64_t at = header_at_;
  if (extended_type_ == kGnuLongName) next_path_ = until_nul(buf_);
  if (extended_type_ == kGnuLongLink) next_linkpath_ = until_nul(buf_);
  if (extended_type_ == kPaxNext) {
    std::string_view s(buf_);
    while (!s.empty()) {
      const auto sp = s.find(' ');
      std::size_t len = 0;
      if (sp == std::string_view::npos || sp == 0 || sp > 20) not_tar(members_ - 1, at, "malformed PAX record length");
      for (char c : s.substr(0, sp)) {
        if (c < '0' || c > '9') not_tar(members_ - 1, at, "malformed PAX record length");
        len = len * 10 + static_cast<std::size_t>(c - '0');
      }
      if (len <= sp + 1 || len > s.size() || s[len - 1] != '\n') not_tar(members_ - 1, at, "malformed PAX record");
      const std::string_view kv = s.substr(sp + 1, len - sp - 2);
      const auto eq = kv.find('=');
      if (eq == std::string_view::npos) not_tar(members_ - 1, at, "PAX record without '='");
      const std::string_view key = kv.substr(0, eq), value = kv.substr(eq + 1);
      if (key == "path") next_path_ = std::string(value);
      else if (key == "linkpath") next_linkpath_ = std::string(value);
      else if (key == "size") {
        std::uint64_t v = 0;
        if (value.empty() || value.size() > 19) not_tar(members_ - 1, at, "PAX size: not a number");
        for (char c : value) {
          if (c < '0' || c > '9') not_tar(members_ - 1, at, "PAX size: not a number");
          v = v * 10 + static_cast<std::uint64_t>(c - '0');
        }
        next_size_ = v;
        next_size_set_ = true;
      }
      s.remove_prefix(len);
    }
  }
  buf_.clear();
  want_ = padding_after_;
  state_ = want_ ? State::padding : State::header;
}

void Reader::finish() {
  if (state_ == State::ended) return;
  if (state_ == State::data || state_ == State::padding)
    throw Error(ErrorCode::invalid, "archive entry \"" + current_ + "\": the archive ends inside its data (truncated)");
  throw Error(ErrorCode::invalid, "archive: ends without the end-of-archive blocks (truncated, or not a tar archive)");
}

}  // namespace arl::sidecar::tar
