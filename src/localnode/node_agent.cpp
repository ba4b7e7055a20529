#include "localnode/node_agent.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "core/base64.h"
#include "core/error.h"
#include "k8s/kubeconfig.h"
#include "localnode/ip_allocator.h"
#include "localnode/node_network.h"
#include "localnode/pod_plan.h"
#include "localnode/pod_process.h"
#include "localnode/pod_status.h"
#include "localnode/probe.h"
#include "core/work_queue.h"

namespace arl::localnode {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

const k8s::Resource kConfigMaps{"", "v1", "configmaps", "ConfigMap", true};

std::mutex g_log_mu;
template <typename... Args>
void logf(fmt::format_string<Args...> f, Args&&... args) {
  auto line = fmt::format(f, std::forward<Args>(args)...);
  std::lock_guard lk(g_log_mu);
  std::cerr << rfc3339_micro(std::chrono::system_clock::now()) << " localnode: " << line << "\n" << std::flush;
}

std::string now_rfc3339() { return rfc3339(std::chrono::system_clock::now()); }

std::string str_at(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

std::string self_exe() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("arl") : p.string();
}

}  // namespace

struct PodEntry {
  std::mutex mu;
  std::string key, ns, name, uid;
  std::string pod_dir, log_path, pid_path;
  ProcessPlan plan;
  RunState rs;
  uint64_t start_ticks = 0;
  // The pod's mount namespace, held open so its inode cannot be reused by
  // another pod while we may still signal its members.
  std::string mnt_ns;
  int mnt_fd = -1;
  Clock::time_point started;
  Clock::time_point next_probe;
  bool exited = false;
  // What the API server was last told, so each transition is written once.
  std::string written_phase;
  bool written_ready = false;
};

struct NodeAgent::Impl {
  k8s::KubeApi& api;
  AgentOptions opts;
  Cidr cidr;
  IpAllocator ips;
  NodeNetwork net;
  std::string host_ip;
  core::WorkQueue queue;

  std::mutex objects_mu;
  std::map<std::string, json> objects;  // latest pod objects from the watch

  std::mutex entries_mu;
  std::map<std::string, std::shared_ptr<PodEntry>> entries;

  struct CachedData {
    std::optional<std::map<std::string, std::string>> data;
    Clock::time_point fetched;
  };
  std::mutex cache_mu;
  std::map<std::string, CachedData> data_cache;

  std::atomic<bool> listed{false};
  const std::string own_mnt_ns = mount_namespace_of(getpid());

  Impl(k8s::KubeApi& a, AgentOptions o)
      : api(a), opts(std::move(o)), cidr(parse_pod_cidr(opts.pod_cidr)), ips(cidr), net(opts.netns, cidr) {
    host_ip = format_ipv4(ips.host_ip());
    if (opts.arl_binary.empty()) opts.arl_binary = self_exe();
  }

  // ---- node registration and heartbeat ----

  json node_status_patch() {
    auto now = now_rfc3339();
    auto cond = [&](const char* type, const char* status, const char* reason, const char* msg) {
      return json{{"type", type},           {"status", status},   {"reason", reason},
                  {"message", msg},         {"lastHeartbeatTime", now}, {"lastTransitionTime", now}};
    };
    json cap = {{"cpu", std::to_string(std::max(1u, std::thread::hardware_concurrency()))},
                {"memory", "8Gi"},
                {"pods", std::to_string(cidr.size() - 3)}};
    return {{"status",
             {{"conditions",
               json::array({cond("Ready", "True", "KubeletReady", "arl localnode is posting ready status"),
                            cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "local node"),
                            cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "local node"),
                            cond("PIDPressure", "False", "KubeletHasSufficientPID", "local node")})},
              {"addresses", json::array({{{"type", "InternalIP"}, {"address", host_ip}},
                                         {{"type", "Hostname"}, {"address", opts.node_name}}})},
              {"capacity", cap},
              {"allocatable", cap},
              {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", 0}}}}},
              {"nodeInfo",
               {{"machineID", ""},
                {"systemUUID", ""},
                {"bootID", ""},
                {"kernelVersion", ""},
                {"osImage", "arl localnode (host processes, not isolated)"},
                {"containerRuntimeVersion", "arl-localnode://0"},
                {"kubeletVersion", "v1.33.13-arl-localnode"},
                {"kubeProxyVersion", ""},
                {"operatingSystem", "linux"},
                {"architecture", "amd64"}}}}}};
  }

  void register_node() {
    json node = {{"apiVersion", "v1"},
                 {"kind", "Node"},
                 {"metadata",
                  {{"name", opts.node_name},
                   {"labels",
                    {{"kubernetes.io/hostname", opts.node_name},
                     {"kubernetes.io/os", "linux"},
                     {"kubernetes.io/arch", "amd64"},
                     {"arl.infra.io/localnode", "true"}}},
                   {"annotations", {{"arl.infra.io/netns", opts.netns}, {"arl.infra.io/pod-cidr", cidr.str()}}}}},
                 {"spec", {{"podCIDR", cidr.str()}, {"podCIDRs", json::array({cidr.str()})}}}};
    try {
      api.create(k8s::resources::nodes, "", node);
      logf("registered node {}", opts.node_name);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::already_exists) throw;
    }
    api.patch(k8s::resources::nodes, "", opts.node_name, k8s::PatchType::strategic_merge, node_status_patch(), true);
  }

  void renew_lease() {
    auto now = rfc3339_micro(std::chrono::system_clock::now());
    json spec = {{"holderIdentity", opts.node_name}, {"leaseDurationSeconds", 40}, {"renewTime", now}};
    try {
      api.patch(k8s::resources::leases, "kube-node-lease", opts.node_name, k8s::PatchType::merge, {{"spec", spec}});
    } catch (const Error& e) {
      if (e.code() != ErrorCode::not_found) throw;
      json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                    {"kind", "Lease"},
                    {"metadata", {{"name", opts.node_name}, {"namespace", "kube-node-lease"}}},
                    {"spec", spec}};
      api.create(k8s::resources::leases, "kube-node-lease", lease);
    }
  }

  void heartbeat_loop(std::stop_token stop) {
    auto next_node_status = Clock::now() + 60s;
    while (!stop.stop_requested()) {
      try {
        renew_lease();
        if (Clock::now() >= next_node_status) {
          api.patch(k8s::resources::nodes, "", opts.node_name, k8s::PatchType::strategic_merge, node_status_patch(),
                    true);
          next_node_status = Clock::now() + 60s;
        }
      } catch (const std::exception& e) {
        logf("heartbeat failed (retrying): {}", e.what());
      }
      std::mutex m;
      std::unique_lock lk(m);
      std::condition_variable_any cv;
      cv.wait_for(lk, stop, opts.lease_interval, [] { return false; });
    }
  }

  // ---- watch ----

  void set_object(const json& pod) {
    auto key = pod_key(pod);
    {
      std::lock_guard lk(objects_mu);
      objects[key] = pod;
    }
    queue.add(key);
  }

  void erase_object(const std::string& key) {
    {
      std::lock_guard lk(objects_mu);
      objects.erase(key);
    }
    queue.add(key);
  }

  std::string relist() {
    auto res = api.list(k8s::resources::pods, "");
    // Before any pod is queued: a worker may create a pod dir at once.
    if (!listed.exchange(true)) {
      remove_stale_pod_dirs(res.items);
      reserve_previous_ips(res.items);
    }
    std::set<std::string> seen;
    for (const auto& pod : res.items) {
      seen.insert(pod_key(pod));
      set_object(pod);
    }
    std::vector<std::string> gone;
    {
      std::lock_guard lk(objects_mu);
      for (const auto& [k, v] : objects) {
        if (!seen.count(k)) gone.push_back(k);
      }
    }
    for (const auto& k : gone) erase_object(k);
    return res.resource_version;
  }

  void watch_loop(std::stop_token stop) {
    std::string rv;
    while (!stop.stop_requested()) {
      try {
        if (rv.empty()) rv = relist();
        k8s::WatchOptions wo;
        wo.resource_version = rv;
        bool restart = false;
        api.watch(
            k8s::resources::pods, "", wo,
            [&](const k8s::WatchEvent& ev) {
              using T = k8s::WatchEvent::Type;
              if (ev.type == T::error) {
                restart = true;
                return false;
              }
              auto v = str_at(ev.object.value("metadata", json::object()), "resourceVersion");
              if (!v.empty()) rv = v;
              if (ev.type == T::bookmark) return true;
              if (ev.type == T::deleted) {
                erase_object(pod_key(ev.object));
              } else {
                set_object(ev.object);
              }
              return true;
            },
            stop);
        if (restart) rv.clear();
      } catch (const Error& e) {
        if (e.code() != ErrorCode::gone) {
          logf("pod watch failed (re-listing): {}", e.what());
          std::this_thread::sleep_for(500ms);
        }
        rv.clear();
      } catch (const std::exception& e) {
        logf("pod watch failed (re-listing): {}", e.what());
        rv.clear();
        std::this_thread::sleep_for(500ms);
      }
    }
  }

  // ---- per-pod sync ----

  std::shared_ptr<PodEntry> entry_of(const std::string& key) {
    std::lock_guard lk(entries_mu);
    auto it = entries.find(key);
    return it == entries.end() ? nullptr : it->second;
  }

  void worker_loop(std::stop_token stop) {
    while (auto key = queue.get(stop)) {
      try {
        sync(*key);
      } catch (const std::exception& e) {
        logf("pod {}: {} (retrying)", *key, e.what());
        queue.add_after(*key, 500ms);
      }
      queue.done(*key);
    }
  }

  void sync(const std::string& key) {
    std::optional<json> obj;
    {
      std::lock_guard lk(objects_mu);
      if (auto it = objects.find(key); it != objects.end()) obj = it->second;
    }
    auto entry = entry_of(key);
    if (!obj) {
      if (entry) {
        logf("pod {} deleted: stopping its process", key);
        terminate(*entry, 0s);
        cleanup(entry);
      }
      return;
    }
    json& pod = *obj;
    const auto& meta = pod["metadata"];
    const auto ns = str_at(meta, "namespace"), name = str_at(meta, "name"), uid = str_at(meta, "uid");
    if (entry && entry->uid != uid) {  // same name, new pod
      terminate(*entry, 0s);
      cleanup(entry);
      entry = nullptr;
    }
    const bool deleting = meta.contains("deletionTimestamp") && !meta["deletionTimestamp"].is_null();
    auto& spec = pod["spec"];
    auto node = str_at(spec, "nodeName");
    if (node.empty()) {
      auto sched = str_at(spec, "schedulerName");
      if (deleting || !(sched.empty() || sched == "default-scheduler")) return;
      try {
        api.bind_pod(ns, name, opts.node_name);
      } catch (const Error& e) {
        if (e.code() == ErrorCode::not_found || e.code() == ErrorCode::conflict ||
            e.code() == ErrorCode::already_exists) {
          return;  // gone, or bound elsewhere meanwhile: the watch says what happened
        }
        throw;
      }
      // Start at once instead of waiting for the watch to echo the binding.
      spec["nodeName"] = opts.node_name;
      node = opts.node_name;
    }
    if (node != opts.node_name) return;

    if (deleting) {
      finish_deletion(pod, entry);
      return;
    }
    if (!entry) {
      auto phase = str_at(pod.value("status", json::object()), "phase");
      if (phase == "Succeeded" || phase == "Failed") return;
      start(pod);
      return;
    }
    write_status(*entry);
  }

  std::chrono::seconds grace_of(const json& pod) {
    int64_t g = 30;
    const auto& meta = pod["metadata"];
    if (meta.contains("deletionGracePeriodSeconds") && meta["deletionGracePeriodSeconds"].is_number()) {
      g = meta["deletionGracePeriodSeconds"].get<int64_t>();
    } else if (pod["spec"].contains("terminationGracePeriodSeconds") &&
               pod["spec"]["terminationGracePeriodSeconds"].is_number()) {
      g = pod["spec"]["terminationGracePeriodSeconds"].get<int64_t>();
    }
    return std::min(std::chrono::seconds(std::max<int64_t>(g, 0)), opts.max_grace);
  }

  void finish_deletion(const json& pod, std::shared_ptr<PodEntry> entry) {
    const auto key = pod_key(pod);
    if (entry) {
      terminate(*entry, grace_of(pod));
      cleanup(entry);
    } else {
      remove_pod_files(pod_dir_of(key));
    }
    k8s::DeleteOptions d;
    d.grace_period_seconds = 0;
    d.precondition_uid = str_at(pod["metadata"], "uid");
    try {
      api.remove(k8s::resources::pods, str_at(pod["metadata"], "namespace"), str_at(pod["metadata"], "name"), d);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::not_found && e.code() != ErrorCode::conflict) throw;
    }
  }

  std::string pod_dir_of(const std::string& key) {
    auto slash = key.find('/');
    return opts.state_dir + "/pods/" + pod_file_stem(key.substr(0, slash), key.substr(slash + 1));
  }

  DataLookup lookup_for(const std::string& ns) {
    return [this, ns](const std::string& kind, const std::string& name) -> std::optional<std::map<std::string, std::string>> {
      auto cache_key = kind + "/" + ns + "/" + name;
      {
        std::lock_guard lk(cache_mu);
        auto it = data_cache.find(cache_key);
        if (it != data_cache.end() && Clock::now() - it->second.fetched < 30s) return it->second.data;
      }
      const bool secret = kind == "Secret";
      auto obj = api.get(secret ? k8s::resources::secrets : kConfigMaps, ns, name);
      if (!obj) return std::nullopt;  // not cached: it may be created any moment
      std::map<std::string, std::string> data;
      const json fields = obj->value("data", json::object());
      for (auto& [k, v] : fields.items()) {
        if (!v.is_string()) continue;
        data[k] = secret ? core::base64_decode(v.get<std::string>(), kind + " " + name + " data." + k) : v.get<std::string>();
      }
      if (!secret) {
        const json binary = obj->value("binaryData", json::object());
        for (auto& [k, v] : binary.items()) {
          if (v.is_string()) data[k] = core::base64_decode(v.get<std::string>(), "ConfigMap " + name + " binaryData." + k);
        }
      }
      std::lock_guard lk(cache_mu);
      data_cache[cache_key] = {data, Clock::now()};
      return data;
    };
  }

  void start(const json& pod) {
    const auto key = pod_key(pod);
    const auto& meta = pod["metadata"];
    auto e = std::make_shared<PodEntry>();
    e->key = key;
    e->ns = str_at(meta, "namespace");
    e->name = str_at(meta, "name");
    e->uid = str_at(meta, "uid");
    e->pod_dir = pod_dir_of(key);
    e->log_path = e->pod_dir + ".log";
    e->pid_path = e->pod_dir + ".pid";

    // A pod this node ran before a restart keeps its address when it can.
    auto old_ip = str_at(pod.value("status", json::object()), "podIP");
    uint32_t ip = 0;
    try {
      if (!old_ip.empty() && ips.reserve(key, parse_ipv4(old_ip))) ip = parse_ipv4(old_ip);
    } catch (const Error&) {
    }
    if (!ip) ip = ips.allocate(key);

    PlanInputs in{e->pod_dir, opts.arl_binary, format_ipv4(ip), host_ip, opts.node_name};
    try {
      e->plan = plan_pod(pod, in, lookup_for(e->ns));
    } catch (const Error& err) {
      ips.release(key);
      const auto& cs = pod["spec"].value("containers", json::array());
      auto cname = cs.empty() ? std::string() : str_at(cs[0], "name");
      auto image = cs.empty() ? std::string() : str_at(cs[0], "image");
      if (err.code() == ErrorCode::invalid) {
        // Nothing will change by retrying: fail the pod so its owner replaces or reports it.
        logf("pod {} cannot run here: {}", key, err.what());
        json patch = {{"status",
                       {{"phase", "Failed"}, {"reason", "LocalNodeUnsupported"}, {"message", err.what()},
                        {"hostIP", host_ip}}}};
        patch_status(e->ns, e->name, patch);
        return;
      }
      logf("pod {} waits: {}", key, err.what());
      patch_status(e->ns, e->name, waiting_patch(cname, image, "CreateContainerConfigError", err.what(), host_ip));
      queue.add_after(key, 1s);
      return;
    }
    for (const auto& note : e->plan.notes) logf("pod {}: {}", key, note);
    net.ensure_address(ip);

    e->rs.container = e->plan.container;
    e->rs.image = e->plan.image;
    e->rs.pod_ip = in.pod_ip;
    e->rs.host_ip = host_ip;
    e->rs.start_time = now_rfc3339();
    std::error_code ec;
    fs::create_directories(e->pod_dir, ec);
    SpawnResult sp;
    try {
      sp = spawn_pod_process(e->plan, net.netns_fd(), e->log_path, e->pod_dir);
    } catch (...) {
      ips.release(key);
      throw;
    }
    e->rs.pid = sp.pid;
    e->start_ticks = sp.start_ticks;
    e->started = Clock::now();
    e->next_probe = e->started;
    {
      std::ofstream pf(e->pid_path, std::ios::trunc);
      pf << sp.pid << " " << sp.start_ticks << "\n";
    }
    {
      std::lock_guard lk(entries_mu);
      entries[key] = e;
    }
    // The first status write waits for the probe (or ready_wait), so a pod
    // normally goes Pending -> Running+Ready in one write.
    if (e->plan.readiness.kind == Probe::Kind::none) {
      std::lock_guard lk(e->mu);
      e->rs.ready = true;
    } else {
      try_probe(*e);
    }
    write_status(*e);
  }

  void patch_status(const std::string& ns, const std::string& name, const json& patch) {
    try {
      api.patch(k8s::resources::pods, ns, name, k8s::PatchType::strategic_merge, patch, true);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::not_found) throw;
    }
  }

  // Writes the status if it changed since the last write and is due.
  void write_status(PodEntry& e) {
    json patch;
    std::string phase;
    bool ready;
    {
      std::lock_guard lk(e.mu);
      phase = phase_of(e.rs);
      ready = e.rs.ready && !e.exited;
      if (phase == e.written_phase && ready == e.written_ready) return;
      const bool due = e.exited || ready || Clock::now() - e.started >= opts.ready_wait;
      if (!due) return;
      patch = status_patch(e.rs, now_rfc3339());
    }
    patch_status(e.ns, e.name, patch);
    std::lock_guard lk(e.mu);
    e.written_phase = phase;
    e.written_ready = ready;
  }

  // ---- processes ----

  // Pins the pod's mount namespace once the child has left ours.
  void capture_mnt_locked(PodEntry& e) {
    if (e.mnt_fd >= 0 || e.exited || e.rs.pid <= 0) return;
    auto ns = mount_namespace_of(e.rs.pid);
    if (ns.empty() || ns == own_mnt_ns) return;
    int fd = open(("/proc/" + std::to_string(e.rs.pid) + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    if (mount_namespace_of(e.rs.pid) != ns) {
      close(fd);
      return;
    }
    e.mnt_ns = ns;
    e.mnt_fd = fd;
  }

  // Detects the main process's exit WITHOUT reaping it first: while it is an
  // unreaped zombie its pid (= process group id) cannot be reused, so the
  // rest of the pod can be killed safely; then it is reaped. Entry mutex held.
  bool check_exit_locked(PodEntry& e) {
    if (e.exited) return true;
    if (e.rs.pid <= 0) return true;
    siginfo_t info{};
    if (waitid(P_PID, static_cast<id_t>(e.rs.pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
      if (errno == EINTR) return false;
      info.si_pid = e.rs.pid;  // ECHILD: already gone
      info.si_code = CLD_EXITED;
      info.si_status = 255;
    }
    if (info.si_pid != e.rs.pid) return false;
    ExitInfo ex;
    ex.finished_at = now_rfc3339();
    if (info.si_code == CLD_EXITED) {
      ex.exit_code = info.si_status;
    } else {
      ex.signal = info.si_status;
      ex.exit_code = 128 + info.si_status;
    }
    // A container's processes end with its main process, as in a pod.
    signal_group(e.rs.pid, SIGKILL);
    if (e.mnt_fd >= 0) signal_mount_namespace(e.mnt_ns, SIGKILL);
    int st = 0;
    while (waitpid(e.rs.pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (e.mnt_fd >= 0) {
      close(e.mnt_fd);
      e.mnt_fd = -1;
    }
    e.exited = true;
    e.rs.exit = ex;
    return true;
  }

  void try_probe(PodEntry& e) {
    std::unique_lock lk(e.mu);
    if (e.exited || e.rs.ready) return;
    auto probe = e.plan.readiness;
    auto ip = e.rs.pod_ip;
    lk.unlock();
    bool ok = probe_once(probe, ip, 200ms);
    lk.lock();
    if (ok) e.rs.ready = true;
    capture_mnt_locked(e);
    // Fast while the process is starting, gentle once it is slow.
    auto age = Clock::now() - e.started;
    e.next_probe = Clock::now() + (age < 2s ? 2ms : age < 10s ? 50ms : 500ms);
  }

  // Reaps exited processes and probes unready ones; wakes the pod's sync.
  void monitor_loop(std::stop_token stop) {
    while (!stop.stop_requested()) {
      std::vector<std::shared_ptr<PodEntry>> snapshot;
      {
        std::lock_guard lk(entries_mu);
        for (auto& [k, e] : entries) snapshot.push_back(e);
      }
      auto now = Clock::now();
      for (auto& e : snapshot) {
        bool wake = false;
        {
          std::lock_guard lk(e->mu);
          capture_mnt_locked(*e);
          if (!e->exited && check_exit_locked(*e)) {
            wake = true;
            logf("pod {}: process {} exited with status {}", e->key, e->rs.pid, e->rs.exit->exit_code);
          }
        }
        bool probe_due = false, late = false;
        {
          std::lock_guard lk(e->mu);
          probe_due = !e->exited && !e->rs.ready && now >= e->next_probe;
          late = !e->exited && e->written_phase.empty() && now - e->started >= opts.ready_wait;
        }
        if (probe_due) {
          try_probe(*e);
          std::lock_guard lk(e->mu);
          if (e->rs.ready) wake = true;
        }
        if (wake || late) queue.add(e->key);
      }
      std::this_thread::sleep_for(snapshot.empty() ? 20ms : 2ms);
    }
  }

  // SIGTERM to the process group, SIGKILL to everything in the pod's mount
  // namespace after the grace; returns once the main process is reaped.
  void terminate(PodEntry& e, std::chrono::seconds grace) {
    std::unique_lock lk(e.mu);
    if (e.rs.pid <= 0) return;
    capture_mnt_locked(e);
    if (check_exit_locked(e)) return;
    signal_group(e.rs.pid, grace.count() > 0 ? SIGTERM : SIGKILL);
    auto deadline = Clock::now() + grace;
    while (!check_exit_locked(e) && Clock::now() < deadline) {
      lk.unlock();
      std::this_thread::sleep_for(5ms);
      lk.lock();
    }
    if (e.exited) return;
    signal_group(e.rs.pid, SIGKILL);
    if (e.mnt_fd >= 0) signal_mount_namespace(e.mnt_ns, SIGKILL);
    auto hard = Clock::now() + 5s;
    while (!check_exit_locked(e) && Clock::now() < hard) {
      lk.unlock();
      std::this_thread::sleep_for(2ms);
      lk.lock();
    }
  }

  void remove_pod_files(const std::string& pod_dir) {
    std::error_code ec;
    fs::remove_all(pod_dir, ec);
    fs::remove(pod_dir + ".pid", ec);
  }

  void cleanup(const std::shared_ptr<PodEntry>& e) {
    {
      std::lock_guard lk(entries_mu);
      auto it = entries.find(e->key);
      if (it != entries.end() && it->second == e) entries.erase(it);
    }
    {
      std::lock_guard lk(e->mu);
      if (e->mnt_fd >= 0) close(e->mnt_fd);
      e->mnt_fd = -1;
    }
    ips.release(e->key);
    remove_pod_files(e->pod_dir);
  }

  // Pods of a previous agent that crashed: their processes are found by the
  // pid files (pid + start time, so a recycled pid is never hit).
  void kill_leftovers() {
    std::error_code ec;
    fs::create_directories(opts.state_dir + "/pods", ec);
    for (const auto& entry : fs::directory_iterator(opts.state_dir + "/pods", ec)) {
      if (entry.path().extension() != ".pid") continue;
      std::ifstream f(entry.path());
      pid_t pid = 0;
      uint64_t ticks = 0;
      if (f >> pid >> ticks && pid > 1 && process_start_ticks(pid) == ticks) {
        // Held open while signalling so the namespace's inode cannot be reused meanwhile.
        int fd = open(("/proc/" + std::to_string(pid) + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC);
        auto mnt = mount_namespace_of(pid);
        signal_group(pid, SIGKILL);
        if (fd >= 0 && mnt != own_mnt_ns) signal_mount_namespace(mnt, SIGKILL);
        if (fd >= 0) close(fd);
        logf("killed leftover pod process {} ({})", pid, entry.path().filename().string());
      }
      fs::remove(entry.path(), ec);
    }
  }

  // Pods a previous agent ran keep their addresses: claim them all before
  // any new pod takes one.
  void reserve_previous_ips(const std::vector<json>& pods) {
    for (const auto& p : pods) {
      if (str_at(p.value("spec", json::object()), "nodeName") != opts.node_name) continue;
      auto ip = str_at(p.value("status", json::object()), "podIP");
      if (ip.empty()) continue;
      try {
        ips.reserve(pod_key(p), parse_ipv4(ip));
      } catch (const Error&) {
      }
    }
  }

  void remove_stale_pod_dirs(const std::vector<json>& pods) {
    std::set<std::string> ours;
    for (const auto& p : pods) {
      if (str_at(p.value("spec", json::object()), "nodeName") == opts.node_name) {
        ours.insert(fs::path(pod_dir_of(pod_key(p))).filename().string());
      }
    }
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(opts.state_dir + "/pods", ec)) {
      if (entry.is_directory() && !ours.count(entry.path().filename().string())) fs::remove_all(entry.path(), ec);
    }
  }

  void stop_all_pods() {
    std::vector<std::shared_ptr<PodEntry>> all;
    {
      std::lock_guard lk(entries_mu);
      for (auto& [k, e] : entries) all.push_back(e);
    }
    // SIGTERM everyone first so the grace periods run in parallel.
    for (auto& e : all) {
      std::lock_guard lk(e->mu);
      capture_mnt_locked(*e);
      if (!check_exit_locked(*e)) signal_group(e->rs.pid, SIGTERM);
    }
    for (auto& e : all) terminate(*e, opts.max_grace);
    std::error_code ec;
    for (auto& e : all) fs::remove(e->pid_path, ec);
    if (!all.empty()) logf("stopped {} pod processes", all.size());
  }
};

NodeAgent::NodeAgent(k8s::KubeApi& api, AgentOptions opts) : impl_(std::make_unique<Impl>(api, std::move(opts))) {}
NodeAgent::~NodeAgent() = default;

void NodeAgent::run(std::stop_token stop) {
  auto& im = *impl_;
  std::error_code ec;
  fs::create_directories(im.opts.state_dir + "/pods", ec);
  if (ec) throw Error(ErrorCode::invalid, "--state-dir " + im.opts.state_dir + ": " + ec.message());
  im.kill_leftovers();
  try {
    im.net.setup();
  } catch (...) {
    im.net.teardown();
    throw;
  }
  logf("network ready: netns {}, host end {} {}/{}", im.opts.netns, im.net.host_if(), im.host_ip, im.cidr.prefix);
  try {
    im.register_node();
    im.renew_lease();
  } catch (...) {
    im.net.teardown();
    throw;
  }
  logf("node {} Ready; serving pods (state {})", im.opts.node_name, im.opts.state_dir);

  std::stop_source inner;
  std::stop_callback forward(stop, [&] { inner.request_stop(); });
  std::vector<std::jthread> threads;
  threads.emplace_back([&](std::stop_token) { im.watch_loop(inner.get_token()); });
  threads.emplace_back([&](std::stop_token) { im.heartbeat_loop(inner.get_token()); });
  threads.emplace_back([&](std::stop_token) { im.monitor_loop(inner.get_token()); });
  for (int i = 0; i < std::max(1, im.opts.workers); ++i) {
    threads.emplace_back([&](std::stop_token) { im.worker_loop(inner.get_token()); });
  }
  {
    std::mutex m;
    std::unique_lock lk(m);
    std::condition_variable_any cv;
    cv.wait(lk, inner.get_token(), [] { return false; });
  }
  logf("shutting down");
  im.queue.shutdown();
  for (auto& t : threads) t.join();
  im.stop_all_pods();
  im.net.teardown();
  logf("removed netns {} and {}", im.opts.netns, im.net.host_if());
}

}  // namespace arl::localnode
