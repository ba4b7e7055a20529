#pragma once
// Leader election over a coordination.k8s.io/v1 Lease, as client-go's
// leaderelection: acquire when the lease is free or expired, renew every
// retry period, give up (and let the process exit) when renewal fails for
// longer than the renew deadline.
#include <chrono>
#include <stop_token>
#include <string>

#include "k8s/kube_api.h"

namespace arl::op {

struct LeaseOptions {
  std::string ns = "arl-system";
  std::string name = "arl-operator";
  std::string identity;
  std::chrono::seconds lease_duration{15};
  std::chrono::seconds renew_deadline{10};
  std::chrono::seconds retry_period{2};
};

class LeaderElector {
 public:
  LeaderElector(k8s::KubeApi& api, LeaseOptions opts) : api_(api), opts_(std::move(opts)) {}
  /// Blocks until this process holds the lease (true) or stop is requested (false).
  bool acquire(std::stop_token stop);
  /// Renews until stop (returns true) or the lease is lost (returns false).
  bool hold(std::stop_token stop);
  /// One attempt to take or renew; public for tests.
  bool try_acquire_or_renew();

 private:
  k8s::KubeApi& api_;
  LeaseOptions opts_;
};

}  // namespace arl::op
