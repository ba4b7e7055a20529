#include "operator/operator.h"

#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <thread>
#include <vector>

#include <fmt/format.h>
#include <httplib.h>

#include "core/error.h"
#include "core/log.h"
#include "core/names.h"
#include "k8s/informer.h"
#include "operator/alongside.h"
#include "operator/controllers.h"
#include "operator/informer_cache.h"
#include "operator/leader_election.h"
#include "operator/pod_state.h"
#include "operator/reconcile_log.h"
#include "core/work_queue.h"

namespace arl::op {

using nlohmann::json;
namespace res = k8s::resources;
using std::chrono::milliseconds;

namespace {

std::string key_of_obj(const json& o) {
  return key_of(o["metadata"].value("namespace", ""), o["metadata"].value("name", ""));
}

std::pair<std::string, int> split_addr(const std::string& addr) {
  auto colon = addr.rfind(':');
  std::string host = colon == std::string::npos ? "0.0.0.0" : addr.substr(0, colon);
  if (host.empty()) host = "0.0.0.0";
  int port = std::stoi(colon == std::string::npos ? addr : addr.substr(colon + 1));
  return {host, port};
}

k8s::InformerOptions pod_informer_options(const std::string& ns) {
  k8s::InformerOptions o;
  o.ns = ns;
  o.label_selector = std::string(labels::kWarmPool);
  o.transform = trim_cached_pod;
  return o;
}

void log_reconciling(const char* kind, const json* old, const json& obj, bool deleted = false) {
  if (auto line = reconcile_log_line(kind, old, obj, deleted)) log::info(line->message, {{"cause", line->cause}});
}

}  // namespace

struct Operator::Impl {
  k8s::KubeApi& api;
  OperatorOptions opts;
  k8s::Informer pools, sandboxes, tasks, pods;
  InformerCache cache;
  Metrics metrics;
  EventRecorder events;
  core::WorkQueue queue;
  Context ctx;
  std::atomic<bool> ready{false};

  Impl(k8s::KubeApi& a, OperatorOptions o, StepRunnerFactory runners)
      : api(a),
        opts(std::move(o)),
        pools(a, res::warm_pools, {opts.watch_namespace}),
        sandboxes(a, res::sandboxes, {opts.watch_namespace}),
        tasks(a, res::tasks, {opts.watch_namespace}),
        pods(a, res::pods, pod_informer_options(opts.watch_namespace)),
        events(a),
        ctx{a, cache, opts.config, std::move(runners), metrics, events, {}} {
    cache.add(pools);
    cache.add(sandboxes);
    cache.add(tasks);
    cache.add(pods);
    auto enq = [this](const char* kind) {
      return [this, kind](const std::string& key, milliseconds delay) { queue.add_after(std::string(kind) + ":" + key, delay); };
    };
    ctx.enqueue = {enq("pool"), enq("sandbox"), enq("task")};
    ctx.spawn = [](std::function<void()> f) { std::thread(std::move(f)).detach(); };
    ctx.alongside = threaded_alongside();
    wire_handlers();
  }

  void enqueue_waiting_sandboxes(const std::string& ns, const std::string& pool) {
    for (const auto& ptr : sandboxes.store().list_ptrs(ns)) {
      const json& s = *ptr;
      if (!s.contains("spec") || s["spec"].value("poolRef", "") != pool) continue;
      if (s.contains("status") && !s["status"].value("podName", "").empty()) continue;
      queue.add("sandbox:" + key_of_obj(s));
    }
  }

  void enqueue_tasks_of(const std::string& ns, const std::string& sandbox) {
    for (const auto& ptr : tasks.store().list_ptrs(ns))
      if (ptr->contains("spec") && (*ptr)["spec"].value("sandboxRef", "") == sandbox) queue.add("task:" + key_of_obj(*ptr));
  }

  void on_pod(const json* old_pod, const json& pod, bool deleted) {
    const std::string ns = pod["metadata"].value("namespace", "");
    const std::string pool = pod_label(pod, labels::kWarmPool);
    queue.add("pool:" + key_of(ns, pool));
    bool ready_idle = !deleted && pod_is_idle(pod) && pod_is_ready(pod);
    bool was_ready_idle = old_pod && pod_is_idle(*old_pod) && pod_is_ready(*old_pod);
    if (ready_idle && !was_ready_idle) enqueue_waiting_sandboxes(ns, pool);
    std::string sandbox = pod_label(pod, labels::kSandbox);
    // A restarted sidecar serves the pool token again until it is bound again
    // (sandbox_plan.h rebind): its restart and its readiness wake the sandbox.
    bool sidecar_changed =
        old_pod && (sidecar_restarts(*old_pod) != sidecar_restarts(pod) || pod_is_ready(*old_pod) != pod_is_ready(pod));
    if (!sandbox.empty() && (deleted || pod_is_terminating(pod) || pod_has_failed(pod) || sidecar_changed))
      queue.add("sandbox:" + key_of(ns, sandbox));
    if (deleted) {
      ctx.claims.release(key_of_obj(pod));
      ctx.sidecar_binds.forget(pod["metadata"].value("uid", ""));
    }
  }

  void wire_handlers() {
    pools.on_add([this](const json& p) {
      log_reconciling("WarmPool", nullptr, p);
      queue.add("pool:" + key_of_obj(p));
      enqueue_waiting_sandboxes(p["metadata"].value("namespace", ""), p["metadata"].value("name", ""));
    });
    pools.on_update([this](const json& o, const json& p) {
      log_reconciling("WarmPool", &o, p);
      queue.add("pool:" + key_of_obj(p));
    });
    pools.on_delete([this](const json& p) {
      log_reconciling("WarmPool", nullptr, p, true);
      queue.add("pool:" + key_of_obj(p));  // its token Secret may go now (release_pool_token)
    });
    pods.on_add([this](const json& p) { on_pod(nullptr, p, false); });
    pods.on_update([this](const json& o, const json& p) { on_pod(&o, p, false); });
    pods.on_delete([this](const json& p) { on_pod(nullptr, p, true); });
    sandboxes.on_add([this](const json& s) {
      note_sandbox_seen(ctx, s);  // allocation latency includes the wait in the queue
      queue.add("sandbox:" + key_of_obj(s));
      log_reconciling("Sandbox", nullptr, s);  // after the enqueue: off the allocation's latency
    });
    sandboxes.on_update([this](const json& o, const json& s) {
      log_reconciling("Sandbox", &o, s);
      queue.add("sandbox:" + key_of_obj(s));
      std::string before = o.contains("status") ? o["status"].value("phase", "") : "";
      std::string after = s.contains("status") ? s["status"].value("phase", "") : "";
      if (before != after) enqueue_tasks_of(s["metadata"].value("namespace", ""), s["metadata"].value("name", ""));
    });
    sandboxes.on_delete([this](const json& s) {
      log_reconciling("Sandbox", nullptr, s, true);
      try {
        on_sandbox_deleted(ctx, s);
      } catch (const std::exception& e) {
        log::warn("cleaning up deleted sandbox", {{"sandbox", key_of_obj(s)}, {"error", e.what()}});
      }
    });
    tasks.on_add([this](const json& t) {
      note_task_seen(ctx, t);
      queue.add("task:" + key_of_obj(t));
      log_reconciling("Task", nullptr, t);
    });
    tasks.on_update([this](const json& o, const json& t) {
      log_reconciling("Task", &o, t);
      queue.add("task:" + key_of_obj(t));
    });
    tasks.on_delete([this](const json& t) {
      ctx.task_seen.forget(key_of_obj(t));
      log_reconciling("Task", nullptr, t, true);
    });
  }

  void work() {
    while (auto item = queue.get()) {
      const std::string& full = *item;
      auto colon = full.find(':');
      std::string kind = full.substr(0, colon);
      auto [ns, name] = split_key(full.substr(colon + 1));
      auto start = std::chrono::steady_clock::now();
      std::string labels = fmt::format("controller=\"{}\"", kind);
      try {
        Result r;
        if (kind == "pool") r = reconcile_pool(ctx, ns, name);
        else if (kind == "sandbox") r = reconcile_sandbox(ctx, ns, name);
        else r = reconcile_task(ctx, ns, name);
        queue.forget(full);
        if (r.requeue_after.count() > 0) queue.add_after(full, r.requeue_after);
        log::debug("reconciled", {{"key", full}, {"requeue_ms", std::to_string(r.requeue_after.count())}});
      } catch (const std::exception& e) {
        metrics.inc("arl_reconcile_errors_total", labels);
        log::warn("reconcile failed; retrying with backoff", {{"controller", kind}, {"object", ns + "/" + name}, {"error", e.what()}});
        queue.add_rate_limited(full);
      }
      metrics.inc("arl_reconcile_total", labels);
      metrics.observe("arl_reconcile_duration_seconds", labels,
                      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      queue.done(full);
    }
  }

  std::unique_ptr<httplib::Server> serve(const std::string& addr, bool with_metrics, bool with_health, std::thread& th) {
    if (addr.empty() || addr == "0") return nullptr;
    auto srv = std::make_unique<httplib::Server>();
    if (with_metrics)
      srv->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
        metrics.set("arl_workqueue_depth", "", static_cast<double>(queue.size()));
        res.set_content(metrics.render(), "text/plain; version=0.0.4");
      });
    if (with_health) {
      srv->Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });
      srv->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
        res.status = ready ? 200 : 503;
        res.set_content(ready ? "ok" : "informers not synced", "text/plain");
      });
    }
    auto [host, port] = split_addr(addr);
    if (!srv->bind_to_port(host.c_str(), port))
      throw Error(ErrorCode::unavailable, fmt::format("cannot listen on {} (is the port in use? change --metrics-addr/--health-addr)", addr));
    th = std::thread([s = srv.get()] { s->listen_after_bind(); });
    return srv;
  }
};

Operator::Operator(k8s::KubeApi& api, OperatorOptions opts, StepRunnerFactory runners)
    : impl_(std::make_unique<Impl>(api, std::move(opts), std::move(runners))) {}

Operator::~Operator() = default;

void Operator::run(std::stop_token stop) {
  Impl& m = *impl_;
  std::thread metrics_th, health_th;
  bool same = m.opts.metrics_addr == m.opts.health_addr;
  auto metrics_srv = m.serve(m.opts.metrics_addr, true, same, metrics_th);
  auto health_srv = same ? nullptr : m.serve(m.opts.health_addr, false, true, health_th);

  std::jthread lease_th;
  std::atomic<bool> lost{false};
  if (m.opts.leader_elect) {
    std::string id = m.opts.identity;
    if (id.empty()) {
      char host[256] = {};
      gethostname(host, sizeof host - 1);
      id = fmt::format("{}_{}", host, getpid());
    }
    LeaderElector elector(m.api, {m.opts.leader_namespace, "arl-operator", id});
    if (!elector.acquire(stop)) return;
    lease_th = std::jthread([&, elector](std::stop_token st) mutable {
      if (!elector.hold(st)) lost = true;
    });
  }

  for (auto* inf : {&m.pools, &m.pods, &m.sandboxes, &m.tasks}) inf->start();
  for (auto* inf : {&m.pools, &m.pods, &m.sandboxes, &m.tasks}) {
    while (!inf->wait_for_sync(milliseconds(200)))
      if (stop.stop_requested()) break;
  }
  m.ready = true;
  log::info("operator started", {{"workers", std::to_string(m.opts.workers)},
                                 {"namespace", m.opts.watch_namespace.empty() ? "(all)" : m.opts.watch_namespace}});
  std::vector<std::thread> workers;
  for (int i = 0; i < std::max(1, m.opts.workers); ++i) workers.emplace_back([&m] { m.work(); });

  auto next_trim = std::chrono::steady_clock::now();
  while (!stop.stop_requested() && !lost) {
    std::this_thread::sleep_for(milliseconds(50));
#if defined(__GLIBC__)
    // Bursts parse thousands of objects; give the freed memory back.
    if (std::chrono::steady_clock::now() > next_trim) {
      malloc_trim(0);
      next_trim = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    }
#endif
  }

  m.queue.shutdown();
  for (auto& w : workers) w.join();
  for (auto* inf : {&m.pools, &m.pods, &m.sandboxes, &m.tasks}) inf->stop();
  if (lease_th.joinable()) {
    lease_th.request_stop();
    lease_th.join();
  }
  if (metrics_srv) metrics_srv->stop();
  if (health_srv) health_srv->stop();
  if (metrics_th.joinable()) metrics_th.join();
  if (health_th.joinable()) health_th.join();
  log::info("operator stopped");
  if (lost) throw Error(ErrorCode::unavailable, "leadership lost: exiting so a new leader takes over");
}

}  // namespace arl::op
