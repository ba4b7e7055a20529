#include "sidecar/checkpoint_manifest.h"

#include <cstdlib>

#include <fmt/format.h>

#include "core/error.h"

namespace arl::sidecar {
namespace {

constexpr std::string_view kMagic = "arl-checkpoint 1\n";

// Reads the fields back in the order encode_manifest wrote them.
class Reader {
 public:
  Reader(std::string_view text, const std::string& where) : s_(text), where_(where) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(ErrorCode::internal,
                fmt::format("checkpoint manifest {}: {} at byte {}; delete the checkpoint", where_, what, pos_));
  }
  void expect(std::string_view lit) {
    if (s_.substr(pos_, lit.size()) != lit) fail(fmt::format("expected \"{}\"", lit));
    pos_ += lit.size();
  }
  std::string_view word() {
    size_t end = s_.find_first_of(" \n", pos_);
    if (end == std::string_view::npos) fail("unexpected end");
    auto w = s_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return w;
  }
  std::int64_t num() {
    auto w = word();
    std::string tmp(w);
    char* end = nullptr;
    long long v = std::strtoll(tmp.c_str(), &end, 10);
    if (tmp.empty() || *end) fail(fmt::format("bad number \"{}\"", tmp));
    return v;
  }
  std::uint64_t unum() {
    auto v = num();
    if (v < 0) fail("negative number");
    return static_cast<std::uint64_t>(v);
  }
  std::string bytes(std::uint64_t n) {
    if (n > s_.size() - pos_) fail("truncated");
    std::string out(s_.substr(pos_, n));
    pos_ += n;
    return out;
  }
  std::string rest_of_line() {
    size_t end = s_.find('\n', pos_);
    if (end == std::string_view::npos) fail("unexpected end");
    std::string out(s_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return out;
  }

 private:
  std::string_view s_;
  const std::string& where_;
  size_t pos_ = 0;
};

bool valid_kind(char c) { return c == 'd' || c == 'f' || c == 'l' || c == 'p'; }

}  // namespace

void mark_trusted(Manifest& m) {
  for (auto& e : m.entries) {
    e.trusted = e.ctime.tv_sec < m.taken_at.tv_sec ||
                (e.ctime.tv_sec == m.taken_at.tv_sec && e.ctime.tv_nsec < m.taken_at.tv_nsec);
  }
}

std::string encode_manifest(const Manifest& m) {
  std::string out(kMagic);
  // id and name are [A-Za-z0-9._-] (checked by the store), created_at RFC 3339: one word each.
  out += fmt::format("id {}\nname {}\ncreated {}\ntaken {} {}\nfiles {}\ndirs {}\nbytes {}\nskipped {}\nduration_ms {:.3f}\n",
                     m.id, m.name, m.created_at, m.taken_at.tv_sec, m.taken_at.tv_nsec, m.files, m.dirs, m.bytes,
                     m.skipped, m.duration_ms);
  out += fmt::format("entries {}\n", m.entries.size());
  for (const auto& e : m.entries) {
    out += fmt::format("{} {:o} {} {} {} {} {} {} {} {} {}\n", static_cast<char>(e.kind), e.mode, e.size,
                       e.mtime.tv_sec, e.mtime.tv_nsec, e.ctime.tv_sec, e.ctime.tv_nsec, e.ino, e.offset, e.path.size(),
                       e.target.size());
    out += e.path;
    out += e.target;
    out += '\n';
  }
  return out;
}

Manifest decode_manifest(std::string_view text, const std::string& where) {
  Reader r(text, where);
  Manifest m;
  r.expect(kMagic);
  r.expect("id ");
  m.id = r.rest_of_line();
  r.expect("name ");
  m.name = r.rest_of_line();
  r.expect("created ");
  m.created_at = r.rest_of_line();
  r.expect("taken ");
  m.taken_at.tv_sec = r.num();
  m.taken_at.tv_nsec = r.num();
  r.expect("files ");
  m.files = r.unum();
  r.expect("dirs ");
  m.dirs = r.unum();
  r.expect("bytes ");
  m.bytes = r.unum();
  r.expect("skipped ");
  m.skipped = r.unum();
  r.expect("duration_ms ");
  m.duration_ms = std::strtod(r.rest_of_line().c_str(), nullptr);
  r.expect("entries ");
  const auto n = r.unum();
  if (n > text.size()) r.fail("entry count larger than the manifest");
  m.entries.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    ManifestEntry e;
    auto kind = r.word();
    if (kind.size() != 1 || !valid_kind(kind[0])) r.fail("unknown entry kind");
    e.kind = static_cast<EntryKind>(kind[0]);
    e.mode = static_cast<std::uint32_t>(std::strtoul(std::string(r.word()).c_str(), nullptr, 8)) & 07777;
    e.size = r.unum();
    e.mtime.tv_sec = r.num();
    e.mtime.tv_nsec = r.num();
    e.ctime.tv_sec = r.num();
    e.ctime.tv_nsec = r.num();
    e.ino = r.unum();
    e.offset = r.num();
    auto path_len = r.unum();
    auto target_len = r.unum();
    e.path = r.bytes(path_len);
    e.target = r.bytes(target_len);
    r.expect("\n");
    m.entries.push_back(std::move(e));
  }
  mark_trusted(m);
  return m;
}

}  // namespace arl::sidecar
