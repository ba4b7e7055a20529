#pragma once
// A controller context over the in-memory FakeKube, with a scripted sidecar.
#include <doctest/doctest.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "core/names.h"
#include "k8s/fake_kube.h"
#include "operator/cache.h"
#include "operator/controllers.h"

namespace arl::op::testing {

using nlohmann::json;
namespace res = k8s::resources;

/// Answers execute() from a script and records every call.
struct ScriptedRunner {
  std::deque<core::ExecuteResponse> replies;
  std::vector<core::ExecuteRequest> executed;
  std::vector<core::FileWriteRequest> written;
};

class RecordingRunner : public sidecar::StepRunner {
 public:
  explicit RecordingRunner(std::shared_ptr<ScriptedRunner> s) : s_(std::move(s)) {}
  core::ExecuteResponse execute(const core::ExecuteRequest& req) override {
    s_->executed.push_back(req);
    if (s_->replies.empty()) return core::ExecuteResponse{};
    auto r = s_->replies.front();
    s_->replies.pop_front();
    return r;
  }
  void write_file(const core::FileWriteRequest& req) override { s_->written.push_back(req); }

 private:
  std::shared_ptr<ScriptedRunner> s_;
};

struct Fixture {
  k8s::FakeKube kube;
  PassThroughCache cache{kube};
  Metrics metrics;
  EventRecorder events{kube};
  std::shared_ptr<ScriptedRunner> script = std::make_shared<ScriptedRunner>();
  std::vector<std::string> enqueued;
  std::string last_token;
  /// Every allocation handoff: "<pod ip> <pool token> -> <sandbox token>".
  std::vector<std::string> binds;
  std::vector<SandboxSettings> bind_settings;  // what each bind handed the sidecar
  std::unique_ptr<Context> ctx;

  Fixture() {
    ctx.reset(new Context{kube, cache, OperatorConfig{}, {}, metrics, events, {}});
    ctx->config.pool_status = {std::chrono::milliseconds(0), std::chrono::milliseconds(0), std::chrono::milliseconds(0)};
    ctx->config.bound_after = std::chrono::milliseconds(0);  // Bound written at once, in order
    ctx->runners = [this](const std::string&, const std::string& token) {
      last_token = token;
      return std::make_unique<RecordingRunner>(script);
    };
    ctx->bind = [this](const std::string& ip, const std::string& pool_token, const std::string& sandbox_token,
                      const SandboxSettings& settings) {
      bind_settings.push_back(settings);
      binds.push_back(ip + " " + pool_token + " -> " + sandbox_token);
    };
    auto rec = [this](const char* kind) {
      return [this, kind](const std::string& key, std::chrono::milliseconds) { enqueued.push_back(std::string(kind) + ":" + key); };
    };
    ctx->enqueue = {rec("pool"), rec("sandbox"), rec("task")};
  }

  json make_pool(const std::string& name, int replicas) {
    return kube.create(res::warm_pools, "default",
                       json{{"apiVersion", "arl.infra.io/v1alpha1"},
                            {"kind", "WarmPool"},
                            {"metadata", {{"name", name}, {"namespace", "default"}}},
                            {"spec",
                             {{"replicas", replicas},
                              {"template", {{"spec", {{"containers", {{{"name", "py"}, {"image", "python:3.12"}, {"args", {"x"}}}}}}}}}}}});
  }

  void scale(const std::string& pool, int replicas) {
    kube.patch(res::warm_pools, "default", pool, k8s::PatchType::merge, json{{"spec", {{"replicas", replicas}}}});
  }

  std::vector<json> pods(const std::string& pool) {
    k8s::ListOptions o;
    o.label_selector = std::string(labels::kWarmPool) + "=" + pool;
    return kube.list(res::pods, "default", o).items;
  }

  /// What the node agent does: Running, an IP, Ready.
  void make_ready(const json& pod, int ip_suffix) {
    kube.patch(res::pods, "default", pod["metadata"]["name"], k8s::PatchType::merge,
               json{{"status",
                     {{"phase", "Running"},
                      {"podIP", "198.18.0." + std::to_string(ip_suffix)},
                      {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}},
               true);
  }

  void make_all_ready(const std::string& pool) {
    int i = 2;
    for (const auto& p : pods(pool)) make_ready(p, i++);
  }

  json make_sandbox(const std::string& name, const std::string& pool, bool keep_alive = true) {
    return kube.create(res::sandboxes, "default",
                       json{{"apiVersion", "arl.infra.io/v1alpha1"},
                            {"kind", "Sandbox"},
                            {"metadata", {{"name", name}, {"namespace", "default"}}},
                            {"spec", {{"poolRef", pool}, {"keepAlive", keep_alive}}}});
  }

  json make_task(const std::string& name, const std::string& sandbox, json steps, json extra = json::object()) {
    json spec{{"sandboxRef", sandbox}, {"steps", steps}};
    spec.update(extra);
    return kube.create(res::tasks, "default",
                       json{{"apiVersion", "arl.infra.io/v1alpha1"},
                            {"kind", "Task"},
                            {"metadata", {{"name", name}, {"namespace", "default"}}},
                            {"spec", spec}});
  }

  json get(const k8s::Resource& r, const std::string& name) { return kube.get(r, "default", name).value(); }

  /// Pool py of one pod, made ready, and sandbox sb allocated to it; returns the pod's name.
  std::string allocate_sandbox(bool keep_alive = true) {
    make_pool("py", 1);
    reconcile_pool(*ctx, "default", "py");
    make_all_ready("py");
    make_sandbox("sb", "py", keep_alive);
    reconcile_sandbox(*ctx, "default", "sb");
    return get(res::sandboxes, "sb")["status"].value("podName", "");
  }

  /// An idle pod of `pool` with a fixed name; ready pods get an IP.
  json make_pod(const std::string& name, const std::string& pool, bool ready, const std::string& sandbox = "") {
    json labels{{std::string(labels::kWarmPool), pool},
                {std::string(labels::kPodState), std::string(sandbox.empty() ? labels::kPodStateReady : labels::kPodStateAllocated)}};
    if (!sandbox.empty()) labels[std::string(labels::kSandbox)] = sandbox;
    json pod = kube.create(res::pods, "default", json{{"metadata", {{"name", name}, {"labels", labels}}}, {"spec", json::object()}});
    if (!ready) return pod;
    return kube.patch(res::pods, "default", name, k8s::PatchType::merge,
                      json{{"status",
                            {{"phase", "Running"}, {"podIP", "198.18.0.9"}, {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}},
                      true);
  }

  void set_status(const k8s::Resource& r, const std::string& name, json status) {
    kube.patch(r, "default", name, k8s::PatchType::merge, json{{"status", std::move(status)}}, true);
  }

  /// Freezes the controllers' wall clock.
  void at(core::TimePoint t) {
    ctx->wall_now = [t] { return t; };
  }

  /// The writes since the last reset as "verb resource/name"; generated
  /// names are masked: a created pool pod is "py-*", an Event "<object>.*".
  std::vector<std::string> writes() const {
    std::vector<std::string> out;
    for (const auto& w : kube.write_log()) {
      std::string name = w.name;
      if (w.resource == "events") name = w.body["involvedObject"].value("name", "") + ".*";
      else if (w.verb == "create" && w.resource == "pods" && name.size() > 6) name = name.substr(0, name.size() - 5) + "*";
      out.push_back(w.verb + " " + w.resource + "/" + name);
    }
    return out;
  }

  /// The body of the only write to `resource/name` with `verb`.
  json body(const std::string& verb, const std::string& resource, const std::string& name) const {
    json found;
    int n = 0;
    for (const auto& w : kube.write_log())
      if (w.verb == verb && w.resource == resource && w.name == name) found = w.body, ++n;
    REQUIRE_MESSAGE(n == 1, verb << " " << resource << "/" << name << " written " << n << " times");
    return found;
  }
};

inline core::TimePoint at_rfc3339(const std::string& ts) { return core::TimePoint{std::chrono::seconds(core::parse_rfc3339(ts).value())}; }

using Writes = std::vector<std::string>;

inline core::ExecuteResponse reply(int code, std::string out = "", std::string err = "", bool timed_out = false) {
  core::ExecuteResponse r;
  r.exit_code = code;
  r.stdout_data = std::move(out);
  r.stderr_data = std::move(err);
  r.timed_out = timed_out;
  return r;
}

}  // namespace arl::op::testing
