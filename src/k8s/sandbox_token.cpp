#include "k8s/sandbox_token.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/error.h"

namespace arl::k8s {

std::string sandbox_token(std::string_view pool_token, std::string_view sandbox_uid) {
  if (pool_token.empty()) throw Error(ErrorCode::invalid, "sandbox token: the pool token is empty");
  if (sandbox_uid.empty())
    throw Error(ErrorCode::invalid, "sandbox token: the sandbox has no metadata.uid (was it read from the API server?)");
  std::string msg(kSandboxTokenContext);
  msg += sandbox_uid;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), pool_token.data(), static_cast<int>(pool_token.size()),
            reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac, &len))
    throw Error(ErrorCode::internal, "sandbox token: HMAC-SHA256 failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 15];
  }
  return out;
}

}  // namespace arl::k8s
