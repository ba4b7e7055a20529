#pragma once
// What the trajectory keeps of a command's output or a file's bytes: the
// size and SHA-256 of all of it, and only its first `cap` bytes as text.
// Fed chunk by chunk, so a streamed command's output is never held whole.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace arl::sidecar {

struct OutputRecord {
  std::string head;         // the first `cap` bytes (never a split UTF-8 character)
  std::uint64_t size = 0;   // bytes of the full output
  std::string sha256;       // hex, of the full output
  bool truncated = false;   // head is shorter than the output
};

class OutputDigest {
 public:
  explicit OutputDigest(size_t cap);
  ~OutputDigest();
  OutputDigest(OutputDigest&&) noexcept;
  OutputDigest& operator=(OutputDigest&&) noexcept;

  void add(std::string_view data);
  /// The record of everything added; the digest is spent afterwards.
  OutputRecord finish();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
  size_t cap_;
  std::string head_;
  std::uint64_t size_ = 0;
};

/// SHA-256 of `data` in lower-case hex.
std::string sha256_hex(std::string_view data);

}  // namespace arl::sidecar
