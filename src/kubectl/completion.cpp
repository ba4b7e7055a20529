// `kubectl arl completion bash|zsh`: generated from the CLI11 command tree,
// so it never drifts from the real flags.
#include <iostream>
#include <map>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "kubectl/context.h"
#include "core/error.h"

namespace arl::kubectl {
namespace {

void collect(const CLI::App& app, const std::string& path, std::map<std::string, std::string>& tree) {
  std::string words;
  for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    words += sub->get_name() + " ";
    collect(*sub, path.empty() ? sub->get_name() : path + " " + sub->get_name(), tree);
  }
  for (const auto* opt : app.get_options()) {
    for (const auto& l : opt->get_lnames()) words += "--" + l + " ";
    for (const auto& s : opt->get_snames()) words += "-" + s + " ";
  }
  if (!words.empty()) words.pop_back();
  tree["_" + path] = words;
}

}  // namespace

std::string completion_script(const CLI::App& root, const std::string& shell) {
  std::map<std::string, std::string> tree;
  collect(root, "", tree);
  std::string entries;
  for (const auto& [k, v] : tree) entries += fmt::format("  [\"{}\"]=\"{}\"\n", k, v);
  std::string script = fmt::format(
      "# kubectl arl completion (bash {}); for `kubectl-arl` and `kubectl arl` when kubectl's own\n"
      "# completion delegates to plugins.\n"
      "declare -gA _kubectl_arl_tree=(\n{})\n"
      "_kubectl_arl() {{\n"
      "  local cur=\"${{COMP_WORDS[COMP_CWORD]}}\" path=\"\" w i start=1\n"
      "  [[ \"${{COMP_WORDS[0]}}\" == kubectl && \"${{COMP_WORDS[1]}}\" == arl ]] && start=2\n"
      "  for ((i=start; i<COMP_CWORD; i++)); do\n"
      "    w=\"${{COMP_WORDS[i]}}\"\n"
      "    [[ -n \"${{_kubectl_arl_tree[_${{path:+$path }}$w]+x}}\" ]] && path=\"${{path:+$path }}$w\"\n"
      "  done\n"
      "  COMPREPLY=( $(compgen -W \"${{_kubectl_arl_tree[_$path]}}\" -- \"$cur\") )\n"
      "}}\n"
      "complete -F _kubectl_arl kubectl-arl\n",
      shell == "zsh" ? "script, loaded through bashcompinit" : "", entries);
  if (shell == "zsh") script = "autoload -U +X bashcompinit && bashcompinit\n" + script;
  return script;
}

void add_completion_command(CLI::App& app) {
  auto shell = std::make_shared<std::string>();
  auto* cmd = add_command(app, "completion", "Print a shell completion script (bash or zsh)",
                          "  source <(kubectl arl completion bash)\n"
                          "  kubectl arl completion zsh > \"${fpath[1]}/_kubectl-arl\"\n");
  cmd->add_option("shell", *shell, "bash or zsh")->required()->check(CLI::IsMember({"bash", "zsh"}));
  CLI::App* root = &app;
  cmd->callback([root, shell] { std::cout << completion_script(*root, *shell); });
}

}  // namespace arl::kubectl
