#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <vector>

#include "cmd/commands.h"

namespace fs = std::filesystem;

namespace {

struct Captured {
  int code;
  std::string out;
};

Captured run(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::stringstream out;
  auto* old = std::cout.rdbuf(out.rdbuf());
  int code = arl::cmd::run_main(static_cast<int>(argv.size()), argv.data());
  std::cout.rdbuf(old);
  return {code, out.str()};
}

fs::path write_task(const fs::path& dir, const std::string& yaml) {
  fs::create_directories(dir);
  auto f = dir / "task.yaml";
  std::ofstream(f) << yaml;
  return f;
}

}  // namespace

TEST_CASE("exec-local runs a task's steps in a local workdir") {
  auto base = fs::temp_directory_path() / "arl-exec-local-test";
  fs::remove_all(base);
  auto file = write_task(base, R"(apiVersion: arl.infra.io/v1alpha1
kind: Task
metadata: {name: hello}
spec:
  sandboxRef: none
  steps:
    - {name: write, type: FilePatch, path: /workspace/hi.txt, content: "hello\n"}
    - {name: read, type: Command, command: [cat, /workspace/hi.txt]}
    - {name: env, type: Command, command: [sh, -c, 'echo $X'], env: {X: only-here}}
    - {name: cwd, type: Command, command: [pwd]}
)");
  auto ws = base / "ws";
  auto r = run({"arl", "sidecar", "exec-local", "-f", file.string(), "--workdir", ws.string()});
  CHECK(r.code == 0);
  CHECK(r.out.find("state: Succeeded") != std::string::npos);
  CHECK(r.out.find("only-here") != std::string::npos);
  CHECK(r.out.find(ws.string() + "\n") != std::string::npos);  // no workDir: the step starts in --workdir
  std::ifstream in(ws / "hi.txt");
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(content == "hello\n");
}

TEST_CASE("exec-local stops at the first failing step and exits 1") {
  auto base = fs::temp_directory_path() / "arl-exec-local-fail";
  fs::remove_all(base);
  auto file = write_task(base, R"(apiVersion: arl.infra.io/v1alpha1
kind: Task
metadata: {name: fails}
spec:
  sandboxRef: none
  steps:
    - {name: bad, type: Command, command: [sh, -c, 'exit 7']}
    - {name: never, type: Command, command: [touch, never]}
)");
  auto r = run({"arl", "sidecar", "exec-local", "-f", file.string(), "--workdir", (base / "ws").string()});
  CHECK(r.code == 1);
  CHECK(r.out.find("exitCode: 7") != std::string::npos);
  CHECK(r.out.find("state: Skipped") != std::string::npos);
  CHECK_FALSE(fs::exists(base / "ws" / "never"));
}

TEST_CASE("exec-local refuses invalid tasks before running anything") {
  auto base = fs::temp_directory_path() / "arl-exec-local-invalid";
  fs::remove_all(base);
  auto file = write_task(base, R"(apiVersion: arl.infra.io/v1alpha1
kind: Task
metadata: {name: bad}
spec:
  sandboxRef: none
  steps:
    - {name: a, type: Command}
)");
  auto r = run({"arl", "sidecar", "exec-local", "-f", file.string(), "--workdir", (base / "ws").string()});
  CHECK(r.code == 1);
  CHECK_FALSE(fs::exists(base / "ws"));
}
