#pragma once
// The running operator: informers feed a de-duplicating work queue drained
// by worker threads that call the reconcile functions; plus metrics, health
// endpoints and leader election.
#include <memory>
#include <stop_token>
#include <string>

#include "k8s/kube_api.h"
#include "operator/context.h"

namespace arl::op {

struct OperatorOptions {
  std::string watch_namespace;  // "" = all
  int workers = 16;
  std::string metrics_addr = ":8081";  // "" or "0" disables
  std::string health_addr = ":8082";
  bool leader_elect = false;
  std::string leader_namespace = "arl-system";
  std::string identity;  // defaults to hostname_pid
  OperatorConfig config;
};

class Operator {
 public:
  Operator(k8s::KubeApi& api, OperatorOptions opts, StepRunnerFactory runners);
  ~Operator();
  /// Blocks until `stop` is requested (or leadership is lost: then throws).
  void run(std::stop_token stop);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace arl::op
