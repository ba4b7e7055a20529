#include <doctest/doctest.h>

#include "core/error.h"
#include "k8s/sandbox_token.h"

using arl::k8s::sandbox_token;

TEST_CASE("sandbox token: HMAC-SHA256 of the pool token over the context and the uid, in hex") {
  // The same value as Python's hmac.new(b"pool-token-0123456789",
  // b"arl-sandbox-token/v1:uid-1", hashlib.sha256).hexdigest(): the SDK's.
  CHECK(sandbox_token("pool-token-0123456789", "uid-1") == "35aabbce3b0f8aa4575b6eda1484bede9f65e1cdb0d12a8fa0edbd7a7215ab25");
  CHECK(sandbox_token("pool-token-0123456789", "uid-2") != sandbox_token("pool-token-0123456789", "uid-1"));
  CHECK(sandbox_token("pool-token-0123456780", "uid-1") != sandbox_token("pool-token-0123456789", "uid-1"));
}

TEST_CASE("sandbox token: an empty pool token or uid is refused, never hashed") {
  CHECK_THROWS_WITH_AS(sandbox_token("", "uid-1"), "sandbox token: the pool token is empty", arl::Error);
  CHECK_THROWS_WITH_AS(sandbox_token("pool", ""),
                       "sandbox token: the sandbox has no metadata.uid (was it read from the API server?)", arl::Error);
}
