#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "kubectl/install.h"
#include "kubectl/manifest.h"
#include "kubectl/sandbox.h"
#include "kubectl/task.h"
#include "k8s/kubeconfig.h"
#include "kubectl/harness.h"

using namespace arl;
using namespace arl::kubectl;
using arl::kubectl::testing::Harness;
using nlohmann::json;

namespace {

std::string write_temp(const std::string& name, const std::string& text) {
  auto dir = std::filesystem::temp_directory_path() / "arl-cmd-tests";
  std::filesystem::create_directories(dir);
  auto path = dir / name;
  std::ofstream(path) << text;
  return path.string();
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string joined(const std::vector<std::string>& args) {
  std::string out;
  for (const auto& a : args) out += (out.empty() ? "" : " ") + a;
  return out;
}

}  // namespace

TEST_CASE("pool create from flags sends a valid WarmPool and says so like kubectl") {
  Harness h;
  REQUIRE(h.run({"pool", "create", "py", "--image", "python:3.12-slim", "--replicas", "3", "--cpu", "500m",
                 "--env", "A=1", "-n", "team"}) == 0);
  CHECK(h.out.str() == "warmpool.arl.infra.io/py created\n");
  auto p = h.kube->get(k8s::resources::warm_pools, "team", "py");
  REQUIRE(p);
  CHECK((*p)["spec"]["replicas"] == 3);
  auto c = (*p)["spec"]["template"]["spec"]["containers"][0];
  CHECK(c["image"] == "python:3.12-slim");
  CHECK(c["resources"]["requests"]["cpu"] == "500m");
  CHECK(c["resources"]["limits"]["cpu"] == "500m");
  CHECK(c["env"][0] == json{{"name", "A"}, {"value", "1"}});
}

TEST_CASE("global flags work before and after the subcommand") {
  Harness h;
  REQUIRE(h.run({"pool", "create", "a", "--image", "i", "-n", "x"}) == 0);
  REQUIRE(h.run({"-n", "x", "pool", "list", "--no-headers", "-o", "name"}) == 0);
  CHECK(h.out.str() == "warmpool.arl.infra.io/a\n");
  REQUIRE(h.run({"pool", "list", "--namespace", "x", "-o", "name"}) == 0);
  CHECK(h.out.str() == "warmpool.arl.infra.io/a\n");
  REQUIRE(h.run({"pool", "list", "-n", "other"}) == 0);
  CHECK(h.out.str().empty());
  CHECK(h.err.str() == "No resources found in other namespace.\n");
  REQUIRE(h.run({"pool", "list", "-A", "-o", "wide"}) == 0);
  CHECK(contains(h.out.str(), "NAMESPACE   NAME"));
}

TEST_CASE("usage errors exit 2: unknown flags, bad values, missing arguments") {
  Harness h;
  CHECK(h.run({"pool", "create", "p", "--image", "i", "--bogus"}) == 2);
  CHECK(h.run({"pool", "create", "p", "--image", "i", "--replicas", "-1"}) == 2);
  CHECK(h.run({"pool", "create", "p"}) == 2);
  CHECK(contains(h.err.str(), "--image is required"));
  CHECK(h.run({"pool", "list", "-o", "xml"}) == 2);
  CHECK(h.run({"pool"}) == 2);
  CHECK(h.run({"frobnicate"}) == 2);
  CHECK(h.run({"sandbox", "create", "--pool", "p", "--ttl", "3x"}) == 2);
  CHECK(h.run({"sandbox", "exec", "sb"}) == 2);
  CHECK(h.run({"sandbox", "cp", "a", "b"}) == 2);
  CHECK(h.kube->total_writes() == 0);
}

TEST_CASE("--help works at every level and shows examples") {
  Harness h;
  for (auto args : std::vector<std::vector<std::string>>{
           {"--help"}, {"pool", "--help"}, {"pool", "create", "--help"}, {"sandbox", "exec", "--help"},
           {"task", "run", "--help"}, {"task", "logs", "--help"}}) {
    CAPTURE(args.size());
    CHECK(h.run(args) == 0);
  }
}

TEST_CASE("get and delete of missing objects fail with kubectl's wording") {
  Harness h;
  CHECK(h.run({"pool", "get", "nope"}) == 1);
  CHECK(contains(h.err.str(), "warmpools.arl.infra.io \"nope\" not found"));
  CHECK(h.run({"task", "delete", "nope"}) == 1);
  CHECK(contains(h.err.str(), "tasks.arl.infra.io \"nope\" not found"));
}

TEST_CASE("pool scale and delete") {
  Harness h;
  REQUIRE(h.run({"pool", "create", "py", "--image", "i"}) == 0);
  REQUIRE(h.run({"pool", "scale", "py", "--replicas", "7"}) == 0);
  CHECK(h.out.str() == "warmpool.arl.infra.io/py scaled\n");
  CHECK((*h.kube->get(k8s::resources::warm_pools, "default", "py"))["spec"]["replicas"] == 7);
  REQUIRE(h.run({"pool", "get", "py", "-o", "json"}) == 0);
  CHECK(json::parse(h.out.str())["spec"]["replicas"] == 7);
  REQUIRE(h.run({"pool", "delete", "py"}) == 0);
  CHECK(h.out.str() == "warmpool.arl.infra.io \"py\" deleted\n");
  CHECK(h.err.str() == "");  // no allocated sandboxes: nothing to warn about
  CHECK_FALSE(h.kube->get(k8s::resources::warm_pools, "default", "py"));
}

TEST_CASE("pool delete says how many sandboxes still hold pods, as the API server's policy does") {
  Harness h;
  REQUIRE(h.run({"pool", "create", "py", "--image", "i"}) == 0);
  h.kube->patch(k8s::resources::warm_pools, "default", "py", k8s::PatchType::merge, json{{"status", {{"allocatedReplicas", 2}}}}, true);
  REQUIRE(h.run({"pool", "delete", "py"}) == 0);
  CHECK(h.out.str() == "warmpool.arl.infra.io \"py\" deleted\n");
  CHECK(h.err.str() ==
        "Warning: warmpool \"py\" still has 2 allocated sandbox(es): they keep their pods and keep working until released or deleted\n");
}

TEST_CASE("sandbox create without a name lets the server generate one and prints it") {
  Harness h;
  REQUIRE(h.run({"sandbox", "create", "--pool", "py", "--keep-alive", "--ttl", "1h"}) == 0);
  auto line = h.out.str();
  CHECK(line.rfind("sandbox.arl.infra.io/py-", 0) == 0);
  auto list = h.kube->list(k8s::resources::sandboxes, "default");
  REQUIRE(list.items.size() == 1);
  CHECK(list.items[0]["spec"]["keepAlive"] == true);
  CHECK(list.items[0]["spec"]["ttlSecondsAfterFinished"] == 3600);
  CHECK(line == "sandbox.arl.infra.io/" + list.items[0]["metadata"]["name"].get<std::string>() + " created\n");
}

TEST_CASE("sandbox create --wait returns once the operator marks it Ready") {
  Harness h;
  std::jthread op([&] {
    for (int i = 0; i < 200; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (auto sb = h.kube->get(k8s::resources::sandboxes, "default", "sb1")) {
        (*sb)["status"] = {{"phase", "Ready"}, {"podName", "py-abcde"}};
        h.kube->update_status(k8s::resources::sandboxes, "default", *sb);
        return;
      }
    }
  });
  REQUIRE(h.run({"sandbox", "create", "sb1", "--pool", "py", "--wait", "-o", "name"}) == 0);
  CHECK(h.out.str() == "sandbox.arl.infra.io/sb1\n");
}

TEST_CASE("waiting gives up at --timeout with what it waited for") {
  Harness h;
  auto start = std::chrono::steady_clock::now();
  CHECK(h.run({"sandbox", "create", "sb1", "--pool", "py", "--wait", "--timeout", "300ms"}) == 1);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
  CHECK(contains(h.err.str(), "timed out after 300ms waiting for sandbox sb1"));
}

TEST_CASE("sandbox exec parses the command after -- and reports a missing sandbox") {
  Harness h;
  CHECK(h.run({"sandbox", "exec", "ghost", "--", "python", "-c", "print(1)"}) == 1);
  CHECK(contains(h.err.str(), "sandboxes.arl.infra.io \"ghost\" not found"));
}

TEST_CASE("sandbox exec on a sandbox without a pod says what to do") {
  Harness h;
  REQUIRE(h.run({"sandbox", "create", "sb", "--pool", "py"}) == 0);
  CHECK(h.run({"sandbox", "exec", "sb", "--", "ls"}) == 1);
  CHECK(contains(h.err.str(), "has no pod yet"));
}

TEST_CASE("task run validates every document first and lists every problem with file:line") {
  Harness h;
  auto path = write_temp("bad-tasks.yaml",
                         "apiVersion: arl.infra.io/v1alpha1\n"   // 1
                         "kind: Task\n"                          // 2
                         "metadata:\n"                           // 3
                         "  name: t1\n"                          // 4
                         "spec:\n"                               // 5
                         "  sandboxRef: sb\n"                    // 6
                         "  steps:\n"                            // 7
                         "    - name: run\n"                     // 8
                         "      type: Command\n"                 // 9
                         "---\n"                                 // 10
                         "apiVersion: arl.infra.io/v1alpha1\n"   // 11
                         "kind: Task\n"                          // 12
                         "metadata:\n"                           // 13
                         "  name: t2\n"                          // 14
                         "spec:\n"                               // 15
                         "  sandboxRef: sb\n"                    // 16
                         "  timeout: 3x\n"                       // 17
                         "  steps:\n"                            // 18
                         "    - name: w\n"                       // 19
                         "      type: FilePatch\n"               // 20
                         "      content: hi\n");                 // 21
  CHECK(h.run({"task", "run", "-f", path}) == 1);
  auto err = h.err.str();
  CAPTURE(err);
  CHECK(contains(err, "nothing was created"));
  CHECK(contains(err, path + ":8: Task \"t1\": spec.steps[0].command"));
  CHECK(contains(err, path + ":17: Task \"t2\": spec.timeout"));
  CHECK(contains(err, path + ":19: Task \"t2\": spec.steps[0].path"));
  CHECK(h.kube->total_writes() == 0);
}

TEST_CASE("task run reports YAML syntax errors with the line") {
  Harness h;
  auto path = write_temp("broken.yaml", "kind: Task\nspec:\n  steps: [\n");
  CHECK(h.run({"task", "run", "-f", path}) == 1);
  CHECK(contains(h.err.str(), path + ":"));
  CHECK(h.run({"task", "run", "-f", "/nonexistent/task.yaml"}) == 1);
  CHECK(contains(h.err.str(), "/nonexistent/task.yaml"));
}

TEST_CASE("task run --sandbox fills sandboxRef and kind; --wait exits 1 when a task fails") {
  Harness h;
  auto path = write_temp("ok.yaml",
                         "metadata: {name: t1}\n"
                         "spec:\n"
                         "  steps:\n"
                         "    - {name: a, type: Command, command: [echo, hi]}\n");
  REQUIRE(h.run({"task", "run", "-f", path, "--sandbox", "sb"}) == 0);
  CHECK(h.out.str() == "task.arl.infra.io/t1 created\n");
  auto t = h.kube->get(k8s::resources::tasks, "default", "t1");
  REQUIRE(t);
  CHECK((*t)["spec"]["sandboxRef"] == "sb");
  CHECK((*t)["kind"] == "Task");

  REQUIRE(h.run({"task", "delete", "t1"}) == 0);
  std::jthread op([&] {
    for (int i = 0; i < 200; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      if (auto task = h.kube->get(k8s::resources::tasks, "default", "t1")) {
        (*task)["status"] = {{"state", "Failed"}, {"exitCode", 3}, {"message", "step a exited 3"}};
        h.kube->update_status(k8s::resources::tasks, "default", *task);
        return;
      }
    }
  });
  CHECK(h.run({"task", "run", "-f", path, "--sandbox", "sb", "--wait"}) == 1);
  CHECK(contains(h.out.str(), "task.arl.infra.io/t1 Failed"));
  CHECK(contains(h.err.str(), "task t1 failed (exit code 3): step a exited 3"));
}

TEST_CASE("task logs falls back to the status output when the sandbox is gone") {
  Harness h;
  json task = {{"apiVersion", "arl.infra.io/v1alpha1"},
               {"kind", "Task"},
               {"metadata", {{"name", "t1"}}},
               {"spec", {{"sandboxRef", "gone"}, {"steps", json::array({{{"name", "a"}, {"type", "Command"}}})}}}};
  auto created = h.kube->create(k8s::resources::tasks, "default", task);
  created["status"] = {{"state", "Succeeded"},
                       {"steps", json::array({{{"name", "a"},
                                               {"state", "Succeeded"},
                                               {"stdout", "tail of output\n"},
                                               {"stderr", "warn\n"},
                                               {"truncated", true}}})}};
  h.kube->update_status(k8s::resources::tasks, "default", created);
  REQUIRE(h.run({"task", "logs", "t1"}) == 0);
  CHECK(h.out.str() == "tail of output\n");
  CHECK(contains(h.err.str(), "warn\n"));
  CHECK(contains(h.err.str(), "truncated"));
}

TEST_CASE("manifest field paths map to their lines, missing fields to their parent") {
  auto docs = parse_manifests("a: 1\n---\nkind: Task\nspec:\n  steps:\n    - name: x\n      command: [a]\n", "f.yaml");
  REQUIRE(docs.size() == 2);
  CHECK(docs[1].line_of("spec.steps[0].command") == 7);
  CHECK(docs[1].line_of("spec.steps[0].path") == 6);
  CHECK(docs[1].line_of("spec.sandboxRef") == 4);
  CHECK(docs[1].line_of("metadata.name") == docs[1].line);
}

TEST_CASE("NAME:PATH arguments of cp") {
  CHECK(parse_remote_path("sb:/workspace/a")->sandbox == "sb");
  CHECK(parse_remote_path("sb:/workspace/a")->path == "/workspace/a");
  CHECK_FALSE(parse_remote_path("./local:file"));
  CHECK_FALSE(parse_remote_path("/abs/path"));
  CHECK_FALSE(parse_remote_path("plain"));
}

TEST_CASE("the embedded manifests are manifests/ in kustomization order") {
  auto embedded = load_embedded_manifests();
  REQUIRE(embedded.size() >= 7);
  CHECK(embedded.front().value["kind"] == "Namespace");
  bool crd = false, deployment = false;
  for (const auto& d : embedded) {
    crd |= d.value.value("kind", "") == "CustomResourceDefinition";
    deployment |= d.value.value("kind", "") == "Deployment";
  }
  CHECK(crd);
  CHECK(deployment);
  auto from_dir = load_install_manifests(std::string(ARL_SOURCE_DIR) + "/manifests");
  REQUIRE(from_dir.size() == embedded.size());
  for (size_t i = 0; i < embedded.size(); ++i) CHECK(from_dir[i].value == embedded[i].value);
}

TEST_CASE("install maps manifests to resources and reads kustomization order") {
  CHECK(resource_for({{"apiVersion", "networking.k8s.io/v1"}, {"kind", "NetworkPolicy"}}).plural == "networkpolicies");
  auto crb = resource_for({{"apiVersion", "rbac.authorization.k8s.io/v1"}, {"kind", "ClusterRoleBinding"}});
  CHECK(crb.plural == "clusterrolebindings");
  CHECK_FALSE(crb.namespaced);
  // The manifests' admission policy is cluster-scoped: a namespaced path for it is a 404.
  for (const char* kind : {"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"})
    CHECK_FALSE(resource_for({{"apiVersion", "admissionregistration.k8s.io/v1"}, {"kind", kind}}).namespaced);
  CHECK(resource_for({{"apiVersion", "admissionregistration.k8s.io/v1"}, {"kind", "ValidatingAdmissionPolicy"}}).plural ==
        "validatingadmissionpolicies");
  auto dep = resource_for({{"apiVersion", "apps/v1"}, {"kind", "Deployment"}});
  CHECK(dep.group == "apps");
  CHECK(dep.namespaced);
  CHECK(image_version("ghcr.io/arl/arl:0.1.0") == "0.1.0");
  CHECK(image_version("localhost:5000/arl:v1.2") == "1.2");
  CHECK(image_version("localhost:5000/arl") == "latest");

  auto dir = std::filesystem::temp_directory_path() / "arl-cmd-tests" / "manifests";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "kustomization.yaml") << "resources:\n  - z.yaml\n  - a.yaml\n";
  std::ofstream(dir / "z.yaml") << "apiVersion: v1\nkind: Namespace\nmetadata: {name: z}\n";
  std::ofstream(dir / "a.yaml")
      << "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: op, namespace: z}\n"
         "spec: {template: {spec: {containers: [{name: o, image: old, args: [operator, --image=old]}]}}}\n";
  auto docs = load_install_manifests(dir.string());
  REQUIRE(docs.size() == 2);
  CHECK(docs[0].value["kind"] == "Namespace");
  set_operator_image(docs[1].value, "new:1");
  CHECK(docs[1].value["spec"]["template"]["spec"]["containers"][0]["image"] == "new:1");
  CHECK(docs[1].value["spec"]["template"]["spec"]["containers"][0]["args"][1] == "--image=new:1");
}

TEST_CASE("completion script is generated from the real command tree") {
  Harness h;
  // Printed straight to std::cout; checking the generator is enough here.
  CLI::App app{"t"};
  app.name("kubectl arl");
  auto ctx = std::make_shared<PluginContext>();
  std::ostringstream o, e;
  ctx->inject(h.kube, &o, &e);
  add_plugin_commands(app, ctx);
  auto script = completion_script(app, "bash");
  CHECK(contains(script, "[\"_pool\"]=\"create list get delete scale"));
  CHECK(contains(script, "[\"_sandbox exec\"]="));
  CHECK(contains(script, "--workdir"));
  CHECK(contains(completion_script(app, "zsh"), "bashcompinit"));
  CHECK(h.run({"completion", "fish"}) == 2);
}

TEST_CASE("sandbox create --env, --env-from-secret, --env-from-configmap and --workdir fill spec.env and spec.workingDir") {
  const json want_env = json::array({
      {{"name", "A"}, {"value", "1"}},
      {{"name", "B"}, {"value", "x=y:z"}},  // only the first '=' splits
      {{"name", "KEY"}, {"valueFrom", {{"secretKeyRef", {{"name", "creds"}, {"key", "api-key"}}}}}},
      {{"name", "MODE"}, {"valueFrom", {{"configMapKeyRef", {{"name", "cfg"}, {"key", "mode.v1"}}}}}},
  });
  // The repeatable flags take one value each, wherever the positional NAME is.
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"sandbox", "create", "--env", "A=1", "--env", "B=x=y:z", "sb1", "--pool", "py", "--env-from-secret",
            "KEY=creds:api-key", "--env-from-configmap", "MODE=cfg:mode.v1", "--workdir", "repo/src"},
           {"sandbox", "create", "sb1", "--env", "A=1", "--env-from-configmap", "MODE=cfg:mode.v1", "--env", "B=x=y:z",
            "--workdir", "repo/src", "--env-from-secret", "KEY=creds:api-key", "--pool", "py"},
           {"sandbox", "create", "--pool=py", "--env=A=1", "--env=B=x=y:z", "--env-from-secret=KEY=creds:api-key",
            "--env-from-configmap=MODE=cfg:mode.v1", "--workdir=repo/src", "sb1"},
       }) {
    CAPTURE(joined(args));
    Harness h;
    REQUIRE(h.run(args) == 0);
    CHECK(h.out.str() == "sandbox.arl.infra.io/sb1 created\n");
    auto sb = h.kube->get(k8s::resources::sandboxes, "default", "sb1");
    REQUIRE(sb);
    CHECK((*sb)["spec"]["poolRef"] == "py");
    CHECK((*sb)["spec"]["env"] == want_env);
    CHECK((*sb)["spec"]["workingDir"] == "repo/src");
  }
}

TEST_CASE("sandbox create without settings flags sends no env and no workingDir; an empty value is a value") {
  Harness h;
  REQUIRE(h.run({"sandbox", "create", "sb1", "--pool", "py"}) == 0);
  auto sb = *h.kube->get(k8s::resources::sandboxes, "default", "sb1");
  CHECK_FALSE(sb["spec"].contains("env"));
  CHECK_FALSE(sb["spec"].contains("workingDir"));
  REQUIRE(h.run({"sandbox", "create", "sb2", "--pool", "py", "--env", "EMPTY=", "--workdir", "/workspace/x"}) == 0);
  sb = *h.kube->get(k8s::resources::sandboxes, "default", "sb2");
  CHECK(sb["spec"]["env"] == json::array({{{"name", "EMPTY"}, {"value", ""}}}));
  CHECK(sb["spec"]["workingDir"] == "/workspace/x");
}

TEST_CASE("bad settings flags exit 2 naming the flag and the value, and create nothing") {
  struct Row {
    std::vector<std::string> flags;
    std::string err;
  };
  for (const auto& row : std::vector<Row>{
           {{"--env", "A"}, "error: --env \"A\": expected NAME=VALUE\n"},
           {{"--env", "=1"}, "error: --env \"=1\": the variable name is empty; expected NAME=VALUE\n"},
           {{"--env", "A B=1"}, "error: --env \"A B=1\": \"A B\" is not a valid variable name: printable ASCII, no spaces or '='\n"},
           {{"--env", "ARL_SIDECAR_TOKEN=x"}, "error: --env \"ARL_SIDECAR_TOKEN=x\": ARL_SIDECAR_TOKEN is reserved for the sidecar\n"},
           {{"--env-from-secret", "K=creds"}, "error: --env-from-secret \"K=creds\": the key is missing; expected NAME=SECRET:KEY\n"},
           {{"--env-from-secret", "K=creds:"}, "error: --env-from-secret \"K=creds:\": the key is missing; expected NAME=SECRET:KEY\n"},
           {{"--env-from-secret", "K=:key"}, "error: --env-from-secret \"K=:key\": the SECRET name is empty; expected NAME=SECRET:KEY\n"},
           {{"--env-from-secret", "creds:key"}, "error: --env-from-secret \"creds:key\": expected NAME=SECRET:KEY\n"},
           {{"--env-from-configmap", "M=cfg"}, "error: --env-from-configmap \"M=cfg\": the key is missing; expected NAME=CONFIGMAP:KEY\n"},
           {{"--env-from-configmap", "M=Cfg_1:k"}, "error: --env-from-configmap \"M=Cfg_1:k\": \"Cfg_1\" is not a valid ConfigMap name\n"},
           {{"--env-from-configmap", "M=cfg:a/b"},
            "error: --env-from-configmap \"M=cfg:a/b\": \"a/b\" is not a valid key: use letters, digits, '-', '_' and '.'\n"},
           {{"--workdir", "/etc"},
            "error: --workdir \"/etc\": \"/etc\" is outside /workspace; give a path under it or relative to it\n"},
           {{"--env", "A=1", "--env-from-secret", "A=creds:k"}, "error: --env-from-secret \"A=creds:k\": \"A\" is set twice\n"},
           {{"--env", "A", "--env", "B C=1", "--env-from-secret", "K=creds"},
            "error: 3 flag values are invalid:\n"
            "  --env \"A\": expected NAME=VALUE\n"
            "  --env-from-secret \"K=creds\": the key is missing; expected NAME=SECRET:KEY\n"
            "  --env \"B C=1\": \"B C\" is not a valid variable name: printable ASCII, no spaces or '='\n"},
       }) {
    CAPTURE(joined(row.flags));
    Harness h;
    std::vector<std::string> args{"sandbox", "create", "sb1", "--pool", "py"};
    args.insert(args.end(), row.flags.begin(), row.flags.end());
    CHECK(h.run(args) == 2);
    CHECK(h.err.str() == row.err);
    CHECK(h.kube->total_writes() == 0);
  }
}

TEST_CASE("sandbox create --help lists the settings flags with examples") {
  CLI::App app{"test"};
  app.name("kubectl arl");
  add_plugin_commands(app, std::make_shared<PluginContext>());
  const std::string help = app.get_subcommand("sandbox")->get_subcommand("create")->help();
  for (const char* text : {"--env NAME=VALUE", "--env-from-secret NAME=SECRET:KEY", "--env-from-configmap NAME=CONFIGMAP:KEY",
                           "--workdir DIR", "kubectl arl sandbox create ep-7 --pool py --env TASK_ID=t-7",
                           "--env-from-secret API_KEY=creds:api-key"})
    CHECK_MESSAGE(contains(help, text), text);
  Harness h;
  CHECK(h.run({"sandbox", "create", "--help"}) == 0);
}
