#include "api_floors.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "bench_stats.h"

namespace arl::bench {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
namespace res = k8s::resources;

namespace {

const k8s::Resource kConfigMaps{"", "v1", "configmaps", "ConfigMap", true};

json config_map(const std::string& name) {
  return {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}, {"data", {{"k", "v"}}}};
}

json unscheduled_pod(const std::string& name) {
  json c = {{"name", "main"}, {"image", "busybox"}, {"command", {"sleep", "infinity"}}};
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"labels", {{"bench", "floor"}}}}},
          {"spec", {{"schedulerName", "arl-bench-nobody"}, {"containers", {c}}}}};
}

}  // namespace

ApiFloors measure_api_floors(k8s::RestClient& api, const std::string& ns, int n) {
  ApiFloors f;
  std::vector<double> create, patch, pod_patch, delivery;

  // Watch delivery: the time from a patch's answer to its event arriving on
  // a watch this process holds (a lower bound: the server may send the event
  // before the answer).
  std::mutex mu;
  std::condition_variable cv;
  std::string awaited;
  Clock::time_point arrived;
  std::string rv = api.list(kConfigMaps, ns).resource_version;
  std::jthread watcher([&](std::stop_token st) {
    k8s::WatchOptions o;
    o.resource_version = rv;
    try {
      api.watch(kConfigMaps, ns, o, [&](const k8s::WatchEvent& ev) {
        std::lock_guard lock(mu);
        if (ev.object.contains("data") && ev.object["data"].value("k", "") == awaited) {
          arrived = Clock::now();
          cv.notify_all();
        }
        return !st.stop_requested();
      }, st);
    } catch (const std::exception&) {
    }
  });

  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    api.create(kConfigMaps, ns, config_map(fmt::format("floor-{}", i)));
    create.push_back(ms(Clock::now() - t0));
  }
  for (int i = 0; i < n; ++i) {
    const std::string value = fmt::format("v{}", i);
    {
      std::lock_guard lock(mu);
      awaited = value;
      arrived = {};
    }
    auto t0 = Clock::now();
    api.patch(kConfigMaps, ns, "floor-0", k8s::PatchType::merge, json{{"data", {{"k", value}}}});
    auto answered = Clock::now();
    patch.push_back(ms(answered - t0));
    std::unique_lock lock(mu);
    if (cv.wait_for(lock, std::chrono::seconds(5), [&] { return arrived != Clock::time_point{}; }))
      delivery.push_back(std::max(0.0, ms(arrived - answered)));
  }
  watcher.request_stop();
  api.create(res::pods, ns, unscheduled_pod("floor-pod"));
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    api.patch(res::pods, ns, "floor-pod", k8s::PatchType::merge, json{{"metadata", {{"labels", {{"step", std::to_string(i)}}}}}});
    pod_patch.push_back(ms(Clock::now() - t0));
  }
  // The watch ends on its next event or its server timeout; a last patch wakes it.
  api.patch(kConfigMaps, ns, "floor-0", k8s::PatchType::merge, json{{"data", {{"k", "end"}}}});
  f.create_p50 = pct(create, 50), f.create_p99 = pct(create, 99);
  f.patch_p50 = pct(patch, 50), f.patch_p99 = pct(patch, 99);
  f.pod_patch_p50 = pct(pod_patch, 50), f.pod_patch_p99 = pct(pod_patch, 99);
  if (!delivery.empty()) f.delivery_p50 = pct(delivery, 50), f.delivery_p99 = pct(delivery, 99);
  return f;
}

}  // namespace arl::bench
