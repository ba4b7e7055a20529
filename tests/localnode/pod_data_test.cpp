#include <doctest/doctest.h>

#include "core/error.h"
#include "localnode/pod_data.h"

using namespace arl::localnode;
using nlohmann::json;

TEST_CASE("decode_data: Secrets are base64, ConfigMaps plain plus binaryData") {
  auto secret = json::parse(R"({"metadata": {"name": "s"}, "data": {"token": "czNjcmV0", "n": 1}})");
  CHECK(decode_data("Secret", secret) == std::map<std::string, std::string>{{"token", "s3cret"}});

  auto cm = json::parse(R"({"metadata": {"name": "c"}, "data": {"a": "plain"}, "binaryData": {"b": "Ynl0ZXM="}})");
  CHECK(decode_data("ConfigMap", cm) == std::map<std::string, std::string>{{"a", "plain"}, {"b", "bytes"}});

  CHECK(decode_data("Secret", json::parse(R"({"metadata": {"name": "e"}})")).empty());
}

TEST_CASE("decode_data: bad base64 names the object and key") {
  auto secret = json::parse(R"({"metadata": {"name": "s"}, "data": {"token": "***"}})");
  CHECK_THROWS_WITH_AS(decode_data("Secret", secret), "Secret s data.token: not valid base64 (character '*')",
                       arl::Error);
}
