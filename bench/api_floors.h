#pragma once
// The API server's own latency, measured from our C++ client with nothing
// of ours in the way: the floor each allocation stage is compared with.
#include <string>

#include "k8s/rest_client.h"

namespace arl::bench {

struct ApiFloors {
  double create_p50 = 0, create_p99 = 0;            // ConfigMap POST
  double patch_p50 = 0, patch_p99 = 0;              // ConfigMap merge patch
  double pod_patch_p50 = 0, pod_patch_p99 = 0;      // label merge patch of a pod
  double delivery_p50 = 0, delivery_p99 = 0;        // patch answered -> its watch event here
};

/// Runs `n` of each in namespace `ns` (objects are left for the namespace's
/// deletion). The pod names a scheduler nobody runs, so no node starts it
/// and no controller of ours sees it.
ApiFloors measure_api_floors(k8s::RestClient& api, const std::string& ns, int n);

}  // namespace arl::bench
