#pragma once
// Where the API server is and how to authenticate to it: from kubeconfig
// files (as kubectl reads them) or from a pod's service account.
#include <string>

namespace arl::k8s {

struct ClusterConfig {
  std::string server;                 // https://host:port[/path prefix] (no trailing slash)
  std::string ca_pem;                 // empty: system trust store
  std::string ca_file;                // the file ca_pem was read from, when it must be trusted as is (in-cluster)
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string token;                  // bearer token
  std::string token_file;             // re-read by RestClient (rotated SA tokens)
  bool insecure_skip_tls_verify = false;
  std::string namespace_ = "default"; // the context's namespace
  std::string context;                // context name used ("" for in-cluster)
  std::string source;                 // file(s) or "in-cluster", for messages
};

/// Reads kubeconfig files. `path` empty: $KUBECONFIG (several files separated
/// by ':', merged like kubectl: the first file to define a name wins), else
/// ~/.kube/config. `context` empty: current-context. Relative file references
/// resolve against the directory of the file that names them.
/// Throws arl::Error{invalid|not_found} naming the file and field.
ClusterConfig load_kubeconfig(const std::string& path = "", const std::string& context = "");

/// The pod's service account: KUBERNETES_SERVICE_HOST/PORT and
/// /var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt,namespace}.
/// `sa_dir` is for tests.
ClusterConfig in_cluster_config(const std::string& sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

/// What the CLI and the operator use: an explicit --kubeconfig, else
/// $KUBECONFIG, else ~/.kube/config if it exists, else in-cluster.
ClusterConfig load_client_config(const std::string& kubeconfig = "", const std::string& context = "");


}  // namespace arl::k8s
