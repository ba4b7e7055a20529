// Entry point: picks the command (also by argv[0], so a `kubectl-arl` link is
// the kubectl plugin) and is the only place that turns errors into exit codes.
#include <cstdio>
#include <string>

#include "cmd/commands.h"
#include "core/error.h"

int main(int argc, char** argv) { return arl::cmd::run_main(argc, argv); }
