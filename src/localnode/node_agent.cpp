#include "localnode/node_agent.h"

#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/log.h"
#include "core/types.h"
#include "core/work_queue.h"
#include "k8s/informer.h"
#include "localnode/host_info.h"
#include "localnode/ip_allocator.h"
#include "localnode/log_server.h"
#include "localnode/node_network.h"
#include "localnode/node_registration.h"
#include "localnode/pod_data.h"
#include "localnode/pod_decision.h"
#include "localnode/pod_plan.h"
#include "localnode/pod_status.h"
#include "localnode/pod_supervisor.h"

namespace arl::localnode {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string str_at(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

std::string self_exe() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("arl") : p.string();
}

void wait_for_stop(std::stop_token stop) {
  std::mutex m;
  std::unique_lock lk(m);
  std::condition_variable_any cv;
  cv.wait(lk, stop, [] { return false; });
}

}  // namespace

struct NodeAgent::Impl {
  k8s::KubeApi& api;
  AgentOptions opts;
  Cidr cidr;
  IpAllocator ips;
  NodeNetwork net;
  NodeRegistration node;
  NodeView node_view;
  PodDataCache data;
  core::WorkQueue queue;
  PodSupervisor pods;
  LogServer logs;
  // Every pod, not only ours: unscheduled pods are ours to bind, and a field
  // selector per role would split one pod's binding into a delete and an add
  // arriving in either order.
  k8s::Informer informer;

  Impl(k8s::KubeApi& a, AgentOptions o)
      : api(a),
        opts(std::move(o)),
        cidr(parse_pod_cidr(opts.pod_cidr)),
        ips(cidr),
        net(opts.netns, cidr),
        node(a, identity(), opts.lease_interval),
        node_view{opts.node_name, node_labels(node.identity())},
        data(a),
        pods({opts.state_dir, opts.max_grace, opts.ready_wait}, [this](const std::string& key) { queue.add(key); }),
        logs(format_ipv4(ips.host_ip()), [this](const std::string& key) { return pods.log_of(key); }),
        informer(a, k8s::resources::pods) {
    if (opts.arl_binary.empty()) opts.arl_binary = self_exe();
    auto enqueue = [this](const json& pod) { queue.add(pod_key(pod)); };
    informer.on_add(enqueue);
    informer.on_update([enqueue](const json&, const json& pod) { enqueue(pod); });
    informer.on_delete(enqueue);
  }

  NodeIdentity identity() const {
    const int max_pods = opts.max_pods > 0 ? opts.max_pods : static_cast<int>(cidr.size() - 3);
    return {opts.node_name, opts.netns, cidr.str(), format_ipv4(ips.host_ip()), max_pods, probe_host()};
  }
  const std::string& host_ip() const { return node.identity().host_ip; }

  void worker_loop(std::stop_token stop) {
    while (auto key = queue.get(stop)) {
      try {
        sync(*key);
      } catch (const std::exception& e) {
        log::warn("Failed to sync Pod, retrying", {{"pod", *key}, {"error", e.what()}});
        queue.add_after(*key, 500ms);
      }
      queue.done(*key);
    }
  }

  // Level-triggered: whatever woke us, decide from the cached pod and the
  // local process alone.
  void sync(const std::string& key) {
    const auto slash = key.find('/');
    const auto ns = key.substr(0, slash), name = key.substr(slash + 1);
    auto obj = informer.store().get(ns, name);
    std::optional<PodView> view;
    if (obj) view = view_of(*obj);
    const auto d = decide_pod(view, pods.uid_of(key), node_view);
    if (d.kill_stale) stop_pod(key, 0s);
    if (d.bind) {
      if (!bind(ns, name)) return;
      // Start at once instead of waiting for the watch to echo the binding.
      (*obj)["spec"]["nodeName"] = opts.node_name;
    }
    switch (d.action) {
      case PodAction::none:
        return;
      case PodAction::stop:
        log::info("Stopped process of deleted Pod", {{"pod", key}});
        stop_pod(key, 0s);
        return;
      case PodAction::start:
        start_pod(*obj);
        return;
      case PodAction::report_status:
        report_status(key, ns, name);
        return;
      case PodAction::finish_deletion:
        stop_pod(key, deletion_grace(*obj, opts.max_grace));
        remove_pod(*obj);
        return;
    }
  }

  void stop_pod(const std::string& key, std::chrono::seconds grace) {
    pods.stop(key, grace);
    ips.release(key);
  }

  // false when the pod is gone, was bound elsewhere meanwhile, or its
  // namespace is being deleted (which deletes the pod; retrying the binding
  // every 500 ms until then cost the API server ~45 refused writes a second
  // while a test namespace went away): the watch says what happened.
  bool bind(const std::string& ns, const std::string& name) {
    try {
      api.bind_pod(ns, name, opts.node_name);
      return true;
    } catch (const Error& e) {
      if (e.code() == ErrorCode::not_found || e.code() == ErrorCode::conflict ||
          e.code() == ErrorCode::already_exists) {
        return false;
      }
      if (e.code() == ErrorCode::forbidden && std::string_view(e.what()).find("being terminated") != std::string_view::npos)
        return false;
      throw;
    }
  }

  // Grace 0 with the uid as precondition: the process is already gone, and a
  // new pod of the same name must not be deleted in its place.
  void remove_pod(const json& pod) {
    k8s::DeleteOptions d;
    d.grace_period_seconds = 0;
    d.precondition_uid = str_at(pod["metadata"], "uid");
    try {
      api.remove(k8s::resources::pods, str_at(pod["metadata"], "namespace"), str_at(pod["metadata"], "name"), d);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::not_found && e.code() != ErrorCode::conflict) throw;
    }
  }

  uint32_t address_for(const std::string& key, const json& pod) {
    // A pod this node ran before a restart keeps its address when it can.
    auto old_ip = str_at(pod.value("status", json::object()), "podIP");
    try {
      if (!old_ip.empty() && ips.reserve(key, parse_ipv4(old_ip))) return parse_ipv4(old_ip);
    } catch (const Error&) {
    }
    return ips.allocate(key);
  }

  void start_pod(const json& pod) {
    const auto key = pod_key(pod);
    const auto& meta = pod["metadata"];
    const auto ns = str_at(meta, "namespace"), name = str_at(meta, "name");
    if (auto why = no_command_reason(pod)) {
      wait_without_command(pod, *why);
      return;
    }
    const uint32_t ip = address_for(key, pod);
    PlanInputs in{pods.pod_dir_of(key), opts.arl_binary, format_ipv4(ip), host_ip(), opts.node_name};
    ProcessPlan plan;
    try {
      plan = plan_pod(pod, in, data.lookup_for(ns));
    } catch (const Error& err) {
      ips.release(key);
      refuse(pod, err);
      return;
    }
    for (const auto& note : plan.notes) log::info("Ignored part of Pod spec", {{"pod", key}, {"note", note}});
    net.ensure_address(ip);
    RunState rs;
    rs.container = plan.container;
    rs.image = plan.image;
    rs.pod_ip = in.pod_ip;
    rs.host_ip = host_ip();
    rs.start_time = core::now_rfc3339();
    rs.restart_count = restart_count_for_new_process(pod);
    try {
      pods.start(key, str_at(meta, "uid"), plan, std::move(rs), net.netns_fd());
    } catch (...) {
      ips.release(key);
      throw;
    }
    report_status(key, ns, name);
  }

  // A pod that cannot be planned: invalid ones fail for good, so their owner
  // replaces or reports them; a missing Secret or ConfigMap may appear, so
  // the pod waits and is retried, as a kubelet does.
  void refuse(const json& pod, const Error& err) {
    const auto key = pod_key(pod);
    const auto& meta = pod["metadata"];
    const auto ns = str_at(meta, "namespace"), name = str_at(meta, "name");
    if (err.code() == ErrorCode::invalid) {
      log::warn("Refused Pod the local node cannot run", {{"pod", key}, {"error", err.what()}});
      patch_status(ns, name,
                   {{"status",
                     {{"phase", "Failed"}, {"reason", "LocalNodeUnsupported"}, {"message", err.what()},
                      {"hostIP", host_ip()}}}});
      return;
    }
    const auto& cs = pod["spec"].value("containers", json::array());
    auto cname = cs.empty() ? std::string() : str_at(cs[0], "name");
    auto image = cs.empty() ? std::string() : str_at(cs[0], "image");
    log::info("Pod waits for its config", {{"pod", key}, {"error", err.what()}});
    patch_status(ns, name, waiting_patch(cname, image, "CreateContainerConfigError", err.what(), host_ip()));
    queue.add_after(key, 1s);
  }

  // A container with no command would run its image's entrypoint, which a
  // host process cannot know. The pod waits (Pending, reason in the status)
  // instead of failing: a Failed pod of a Deployment is replaced at once,
  // and the replacement fails too, forever. Written once: the echo of the
  // write finds the reason already there.
  void wait_without_command(const json& pod, const std::string& why) {
    const auto key = pod_key(pod);
    const auto& meta = pod["metadata"];
    const auto& c = pod["spec"]["containers"][0];
    const auto& old = pod.value("status", json::object()).value("containerStatuses", json::array());
    if (!old.empty() && old[0].value("state", json::object()).value("waiting", json::object()).value("reason", "") ==
                            kNoCommandReason) {
      return;
    }
    log::warn("Pod waits: container has no command", {{"pod", key}});
    patch_status(str_at(meta, "namespace"), str_at(meta, "name"),
                 waiting_patch(str_at(c, "name"), str_at(c, "image"), kNoCommandReason, why, host_ip()));
  }

  void report_status(const std::string& key, const std::string& ns, const std::string& name) {
    auto w = pods.status_to_write(key, core::now_rfc3339());
    if (!w) return;
    patch_status(ns, name, w->patch);
    pods.mark_reported(key, *w);
  }

  void patch_status(const std::string& ns, const std::string& name, const json& patch) {
    try {
      api.patch(k8s::resources::pods, ns, name, k8s::PatchType::strategic_merge, patch, true);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::not_found) throw;
    }
  }

  // Before any pod is synced: pods a previous agent ran keep their addresses
  // and directories, and the processes it left running are taken over when
  // they still belong to their pod (adopt_leftover); every other leftover is
  // killed, every other directory removed.
  void adopt_previous_pods(const std::vector<Leftover>& leftovers, bool network_kept) {
    std::set<std::string> ours;
    for (const auto& p : informer.store().list()) {
      if (str_at(p.value("spec", json::object()), "nodeName") != opts.node_name) continue;
      const auto key = pod_key(p);
      ours.insert(key);
      auto ip = str_at(p.value("status", json::object()), "podIP");
      if (ip.empty()) continue;
      try {
        ips.reserve(key, parse_ipv4(ip));
      } catch (const Error&) {
      }
    }
    size_t adopted = 0;
    for (const auto& l : leftovers) {
      if (adopt(l, network_kept)) {
        ++adopted;
      } else {
        pods.kill_leftover(l);
      }
    }
    if (!leftovers.empty()) {
      log::info("Took over pod processes of the previous agent",
                {{"adopted", std::to_string(adopted)}, {"killed", std::to_string(leftovers.size() - adopted)}});
    }
    pods.remove_stale_pod_dirs(ours);
  }

  bool adopt(const Leftover& l, bool network_kept) {
    std::optional<json> obj;
    if (!l.key.empty()) {
      const auto slash = l.key.find('/');
      obj = informer.store().get(l.key.substr(0, slash), l.key.substr(slash + 1));
    }
    std::optional<PodView> view;
    std::optional<RunState> rs;
    if (obj) {
      view = view_of(*obj);
      rs = reported_run_state(*obj);
    }
    if (!adopt_leftover(l.uid, view, rs.has_value(), network_kept, node_view)) return false;
    Probe readiness;
    try {
      const auto& c = obj->at("spec").at("containers").at(0);
      readiness = readiness_probe_of(c, "pod " + l.key);
    } catch (const std::exception&) {
      return false;  // a spec this agent cannot read: killed and started afresh, as before
    }
    net.ensure_address(parse_ipv4(rs->pod_ip));
    if (!pods.adopt(l, readiness, *rs, view->phase)) return false;
    log::info("Took over pod process", {{"pod", l.key}, {"pid", std::to_string(l.pid)}, {"podIP", rs->pod_ip}});
    return true;
  }

  // The network first: the pods an earlier agent left run in it, and are
  // killed at once when it cannot be kept.
  std::pair<std::vector<Leftover>, bool> setup() {
    std::error_code ec;
    fs::create_directories(opts.state_dir + "/pods", ec);
    if (ec) throw Error(ErrorCode::invalid, "--state-dir " + opts.state_dir + ": " + ec.message());
    auto leftovers = pods.find_leftovers();
    bool kept = false;
    try {
      kept = net.setup(!leftovers.empty());
      if (!kept) {
        for (const auto& l : leftovers) pods.kill_leftover(l);
        leftovers.clear();
      }
      log::info(kept ? "Kept pod network" : "Created pod network", {{"netns", opts.netns},
                                                                    {"hostInterface", net.host_if()},
                                                                    {"hostIP", host_ip()},
                                                                    {"podCIDR", cidr.str()}});
      // Pods run without logs served rather than not at all: ARL's pool pods never need them.
      try {
        node.set_kubelet_port(logs.start());
      } catch (const Error& e) {
        log::warn("Serving no pod logs", {{"error", e.what()}});
      }
    } catch (...) {
      logs.stop();
      net.teardown();
      throw;
    }
    return {std::move(leftovers), kept};
  }
};

NodeAgent::NodeAgent(k8s::KubeApi& api, AgentOptions opts) : impl_(std::make_unique<Impl>(api, std::move(opts))) {}
NodeAgent::~NodeAgent() = default;

void NodeAgent::run(std::stop_token stop) {
  auto& im = *impl_;
  auto [leftovers, network_kept] = im.setup();
  std::stop_source inner;
  std::stop_callback forward(stop, [&] { inner.request_stop(); });
  im.informer.start();
  // Workers start only after the first list, so no pod takes an address
  // that a pod of the previous agent still holds; the Node reports Ready only
  // then, so "Ready after a restart" means the running pods are taken over.
  while (!inner.stop_requested() && !im.informer.wait_for_sync(100ms)) {
  }
  std::vector<std::jthread> threads;
  if (!inner.stop_requested()) {
    im.adopt_previous_pods(leftovers, network_kept);
    im.node.register_node();
    const auto& id = im.node.identity();
    log::info("Node is Ready", {{"node", id.name},
                                {"stateDir", im.opts.state_dir},
                                {"cpu", std::to_string(id.host.cpus)},
                                {"memory", memory_quantity(id.host.memory_bytes)},
                                {"arch", id.host.arch}});
    threads.emplace_back([&](std::stop_token) { im.node.heartbeat(inner.get_token()); });
    threads.emplace_back([&](std::stop_token) { im.pods.monitor(inner.get_token()); });
    for (int i = 0; i < std::max(1, im.opts.workers); ++i) {
      threads.emplace_back([&](std::stop_token) { im.worker_loop(inner.get_token()); });
    }
    wait_for_stop(inner.get_token());
  } else {
    for (const auto& l : leftovers) im.pods.kill_leftover(l);  // stopped before taking them over
  }
  log::info("Shutting down", {{"node", im.opts.node_name}});
  im.queue.shutdown();
  for (auto& t : threads) t.join();
  im.informer.stop();
  im.pods.stop_all();
  im.logs.stop();
  im.net.teardown();
  log::info("Removed pod network", {{"netns", im.opts.netns}, {"hostInterface", im.net.host_if()}});
}

}  // namespace arl::localnode
