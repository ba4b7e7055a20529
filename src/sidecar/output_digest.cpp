#include "sidecar/output_digest.h"

#include <openssl/evp.h>

#include "core/error.h"
#include "sidecar/executor.h"

namespace arl::sidecar {
namespace {

std::string hex(const unsigned char* p, unsigned n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(2 * n, '0');
  for (unsigned i = 0; i < n; ++i) {
    s[2 * i] = kDigits[p[i] >> 4];
    s[2 * i + 1] = kDigits[p[i] & 15];
  }
  return s;
}

}  // namespace

struct OutputDigest::Ctx {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  ~Ctx() { EVP_MD_CTX_free(md); }
};

OutputDigest::OutputDigest(size_t cap) : ctx_(std::make_unique<Ctx>()), cap_(cap) {
  if (!ctx_->md || EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1)
    throw Error(ErrorCode::internal, "trajectory: SHA-256 is not available");
}

OutputDigest::~OutputDigest() = default;
OutputDigest::OutputDigest(OutputDigest&&) noexcept = default;
OutputDigest& OutputDigest::operator=(OutputDigest&&) noexcept = default;

void OutputDigest::add(std::string_view data) {
  size_ += data.size();
  EVP_DigestUpdate(ctx_->md, data.data(), data.size());
  if (head_.size() < cap_) head_.append(data.substr(0, cap_ - head_.size()));
}

OutputRecord OutputDigest::finish() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_DigestFinal_ex(ctx_->md, md, &n);
  OutputRecord r;
  r.size = size_;
  r.sha256 = hex(md, n);
  r.truncated = size_ > head_.size();
  // A cut inside a UTF-8 character would make the line's JSON text replace it.
  r.head = r.truncated ? head_.substr(0, utf8_complete_prefix(head_)) : std::move(head_);
  return r;
}

std::string sha256_hex(std::string_view data) {
  OutputDigest d(0);
  d.add(data);
  return d.finish().sha256;
}

}  // namespace arl::sidecar
