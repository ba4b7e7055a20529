#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"
#include "k8s/kubeconfig.h"
#include "k8s/rest_client.h"

using namespace arl;
using namespace arl::k8s;
namespace fs = std::filesystem;

namespace {

// A throwaway self-signed CA certificate in PEM.
std::string self_signed_pem() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("arl-test-ca"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_sign(x, key, EVP_sha256());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, x);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(bio);
  X509_free(x);
  EVP_PKEY_free(key);
  return pem;
}

// Sets an environment variable for one scope.
struct EnvOverride {
  std::string name, old;
  bool had;
  EnvOverride(std::string n, const std::string& value) : name(std::move(n)), had(std::getenv(name.c_str()) != nullptr) {
    if (had) old = std::getenv(name.c_str());
    setenv(name.c_str(), value.c_str(), 1);
  }
  ~EnvOverride() {
    if (had) setenv(name.c_str(), old.c_str(), 1);
    else unsetenv(name.c_str());
  }
};

}  // namespace

TEST_CASE("in-cluster: the service account's ca.crt is trusted in place, nothing is written") {
  // An operator pod's root filesystem is read-only: the client must not need /tmp.
  fs::path sa = fs::temp_directory_path() / ("arl-sa-" + std::to_string(::getpid()));
  fs::create_directories(sa);
  std::ofstream(sa / "token") << "t0k3n";
  std::ofstream(sa / "ca.crt") << self_signed_pem();
  std::ofstream(sa / "namespace") << "arl-system";
  EnvOverride host("KUBERNETES_SERVICE_HOST", "198.19.64.1");
  EnvOverride port("KUBERNETES_SERVICE_PORT", "443");
  ClusterConfig cfg = in_cluster_config(sa.string());
  CHECK(cfg.ca_file == (sa / "ca.crt").string());
  {
    EnvOverride unwritable("TMPDIR", "/nonexistent-arl-dir");
    CHECK_NOTHROW(RestClient client(cfg));
  }
  fs::remove_all(sa);
}

TEST_CASE("inline CA data goes to a private copy under TMPDIR, and an unwritable TMPDIR says what to do") {
  ClusterConfig cfg;
  cfg.server = "https://127.0.0.1:6443";
  cfg.source = "kc";
  cfg.ca_pem = self_signed_pem();
  EnvOverride unwritable("TMPDIR", "/nonexistent-arl-dir");
  CHECK_THROWS_WITH_AS(RestClient client(cfg),
                       doctest::Contains("cannot write the CA bundle to /nonexistent-arl-dir: No such file or directory "
                                         "(set TMPDIR to a writable directory)"),
                       Error);
}
