#pragma once
// A controller context over the in-memory FakeKube, with a scripted sidecar.
#include <deque>
#include <memory>
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

class RecordingRunner : public StepRunner {
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
  std::unique_ptr<Context> ctx;

  Fixture() {
    ctx.reset(new Context{kube, cache, OperatorConfig{}, {}, metrics, events, {}});
    ctx->config.pool_status_interval = std::chrono::milliseconds(0);
    ctx->runners = [this](const std::string&, const std::string& token) {
      last_token = token;
      return std::make_unique<RecordingRunner>(script);
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
};

inline core::ExecuteResponse reply(int code, std::string out = "", std::string err = "", bool timed_out = false) {
  core::ExecuteResponse r;
  r.exit_code = code;
  r.stdout_data = std::move(out);
  r.stderr_data = std::move(err);
  r.timed_out = timed_out;
  return r;
}

}  // namespace arl::op::testing
