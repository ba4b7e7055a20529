#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>

#include <unistd.h>

#include "core/base64.h"
#include "core/error.h"

#include "k8s/kubeconfig.h"

using namespace arl;
using namespace arl::k8s;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("arl-kc-" + std::to_string(::getpid()) + "-" + std::to_string(rand()));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return path / name;
  }
};

// Sets an environment variable for one test and restores it afterwards.
struct EnvGuard {
  std::string name;
  std::optional<std::string> old;
  EnvGuard(std::string n, const std::optional<std::string>& v) : name(std::move(n)) {
    if (const char* o = std::getenv(name.c_str())) old = o;
    if (v) ::setenv(name.c_str(), v->c_str(), 1);
    else ::unsetenv(name.c_str());
  }
  ~EnvGuard() {
    if (old) ::setenv(name.c_str(), old->c_str(), 1);
    else ::unsetenv(name.c_str());
  }
};

}  // namespace

TEST_CASE("base64_decode handles padding, whitespace and bad input") {
  CHECK(core::base64_decode("aGVsbG8=") == "hello");
  CHECK(core::base64_decode("aGVs\nbG8") == "hello");
  CHECK(core::base64_decode("YQ==") == "a");
  CHECK_THROWS_AS(core::base64_decode("a*b"), Error);
}

TEST_CASE("kubeconfig with inline data, token and context namespace") {
  TempDir d;
  auto f = d.write("config", R"(
apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: c1
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority-data: Q0EtUEVN
contexts:
- name: dev
  context: {cluster: c1, user: u1, namespace: team-a}
users:
- name: u1
  user:
    token: abc123
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
)");
  auto cfg = load_kubeconfig(f.string());
  CHECK(cfg.server == "https://127.0.0.1:6443");
  CHECK(cfg.ca_pem == "CA-PEM");
  CHECK(cfg.client_cert_pem == "CERT");
  CHECK(cfg.client_key_pem == "KEY");
  CHECK(cfg.token == "abc123");
  CHECK(cfg.namespace_ == "team-a");
  CHECK(cfg.context == "dev");
}

TEST_CASE("kubeconfig file references resolve relative to the kubeconfig, tokenFile is read") {
  TempDir d;
  d.write("ca.crt", "CAFILE");
  d.write("tok", "file-token\n");
  auto f = d.write("config", R"(
current-context: x
clusters: [{name: c, cluster: {server: "https://h:1", certificate-authority: ca.crt, insecure-skip-tls-verify: true}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
users: [{name: u, user: {tokenFile: tok}}]
)");
  auto cfg = load_kubeconfig(f.string());
  CHECK(cfg.ca_pem == "CAFILE");
  CHECK(cfg.token == "file-token");
  CHECK(cfg.token_file == (d.path / "tok").string());
  CHECK(cfg.insecure_skip_tls_verify);
  CHECK(cfg.namespace_ == "default");
}

TEST_CASE("KUBECONFIG merges several files; the first to define a name wins") {
  TempDir d;
  auto a = d.write("a", R"(
current-context: second
clusters: [{name: c, cluster: {server: "https://first:1"}}]
users: [{name: u, user: {token: t-first}}]
)");
  auto b = d.write("b", R"(
current-context: ignored
clusters: [{name: c, cluster: {server: "https://second:2"}}, {name: c2, cluster: {server: "https://other:3"}}]
contexts:
- {name: second, context: {cluster: c, user: u}}
- {name: other, context: {cluster: c2, user: u}}
)");
  EnvGuard env("KUBECONFIG", a.string() + ":" + (d.path / "missing").string() + ":" + b.string());
  auto cfg = load_kubeconfig();
  CHECK(cfg.context == "second");
  CHECK(cfg.server == "https://first:1");
  CHECK(cfg.token == "t-first");
  auto other = load_kubeconfig("", "other");
  CHECK(other.server == "https://other:3");
  CHECK(load_client_config("", "other").server == "https://other:3");
}

TEST_CASE("kubeconfig errors name the file and the field") {
  TempDir d;
  auto f = d.write("config", R"(
current-context: x
clusters: [{name: c, cluster: {certificate-authority-data: "!!"}}]
contexts: [{name: x, context: {cluster: c, user: nobody}}]
)");
  try {
    load_kubeconfig(f.string());
    FAIL("expected an error");
  } catch (const Error& e) {
    std::string msg = e.what();
    CHECK(msg.find(f.string()) != std::string::npos);
    CHECK(msg.find("clusters[c].server") != std::string::npos);
  }
  try {
    load_kubeconfig(f.string(), "nope");
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::not_found);
    CHECK(std::string(e.what()).find("context \"nope\"") != std::string::npos);
  }
  auto g = d.write("bad-user", R"(
current-context: x
clusters: [{name: c, cluster: {server: "https://h:1"}}]
contexts: [{name: x, context: {cluster: c, user: nobody}}]
)");
  CHECK_THROWS_WITH_AS(load_kubeconfig(g.string()), doctest::Contains("user \"nobody\" not found"), Error);
  auto h = d.write("bad-b64", R"(
current-context: x
clusters: [{name: c, cluster: {server: "https://h:1", certificate-authority-data: "@@"}}]
contexts: [{name: x, context: {cluster: c}}]
)");
  CHECK_THROWS_WITH_AS(load_kubeconfig(h.string()), doctest::Contains("certificate-authority-data"), Error);
}

TEST_CASE("in-cluster config reads the service account directory") {
  TempDir d;
  d.write("token", "sa-token\n");
  d.write("ca.crt", "SA-CA");
  d.write("namespace", "arl-system");
  {
    EnvGuard h("KUBERNETES_SERVICE_HOST", "10.0.0.1");
    EnvGuard p("KUBERNETES_SERVICE_PORT", "443");
    auto cfg = in_cluster_config(d.path.string());
    CHECK(cfg.server == "https://10.0.0.1:443");
    CHECK(cfg.token == "sa-token");
    CHECK(cfg.ca_pem == "SA-CA");
    CHECK(cfg.namespace_ == "arl-system");
  }
  EnvGuard h("KUBERNETES_SERVICE_HOST", std::nullopt);
  CHECK_THROWS_AS(in_cluster_config(d.path.string()), Error);
}
