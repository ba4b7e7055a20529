#pragma once
// Runs `kubectl arl ...` command lines in-process against a FakeKube,
// mapping outcomes to exit codes exactly as run_main() does.
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "kubectl/context.h"
#include "core/error.h"
#include "k8s/fake_kube.h"

namespace arl::kubectl::testing {

struct Harness {
  std::shared_ptr<k8s::FakeKube> kube = std::make_shared<k8s::FakeKube>();
  std::ostringstream out;
  std::ostringstream err;

  int run(const std::vector<std::string>& args) {
    out.str("");
    err.str("");
    CLI::App app{"test"};
    app.name("kubectl arl");
    app.require_subcommand(1);
    auto ctx = std::make_shared<PluginContext>();
    ctx->inject(kube, &out, &err);
    add_plugin_commands(app, ctx);
    std::vector<std::string> argv_store{"kubectl-arl"};
    argv_store.insert(argv_store.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_store) argv.push_back(a.data());
    try {
      app.parse(static_cast<int>(argv.size()), argv.data());
    } catch (const CLI::ParseError& e) {
      if (e.get_exit_code() == 0) return 0;
      err << "error: " << e.what() << "\n";
      return 2;
    } catch (const ExitStatus& s) {
      return s.code;
    } catch (const Error& e) {
      err << "error: " << e.what() << "\n";
      return e.code() == ErrorCode::usage ? 2 : 1;
    }
    return 0;
  }
};

}  // namespace arl::kubectl::testing
