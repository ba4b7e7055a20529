// Latency of the sidecar's /execute of `true` over loopback keep-alive, at
// concurrency 1 and 16, against the floor of starting and waiting for the
// same process without HTTP. Usage: sidecar_bench [requests] [ADDR]
// (without ADDR an in-process sidecar on 127.0.0.1 is measured).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "k8s/direct_transport.h"
#include "k8s/sidecar_client.h"
#include "sidecar/server.h"
#include "sidecar/spawn.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

struct Stats {
  double p50, p99, rps;
};

Stats summarize(std::vector<double> ms, double wall_s) {
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<size_t>(q * static_cast<double>(ms.size())))]; };
  return {at(0.50), at(0.99), static_cast<double>(ms.size()) / wall_s};
}

void print(const char* name, const Stats& s) {
  std::printf("%-34s p50 %7.3f ms   p99 %7.3f ms   %8.0f req/s\n", name, s.p50, s.p99, s.rps);
}

Stats bench_posix_spawn(int n) {
  std::vector<double> ms;
  const char* argv[] = {"/bin/true", nullptr};
  auto w0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    pid_t pid;
    if (posix_spawn(&pid, "/bin/true", nullptr, nullptr, const_cast<char**>(argv), environ) != 0) std::abort();
    int st;
    waitpid(pid, &st, 0);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  return summarize(ms, std::chrono::duration<double>(Clock::now() - w0).count());
}

// The executor's own spawn path, with the pipes it uses, minus HTTP.
Stats bench_executor_spawn(int n) {
  std::vector<double> ms;
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  auto w0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    int o[2], e2[2];
    if (pipe2(o, O_CLOEXEC) != 0 || pipe2(e2, O_CLOEXEC) != 0) std::abort();
    arl::sidecar::SpawnSpec spec{"/bin/true", {"true"}, env, "/", 0, o[1], e2[1]};
    int pid = arl::sidecar::spawn_process(spec);
    close(o[1]);
    close(e2[1]);
    char b[64];
    while (read(o[0], b, sizeof b) > 0) {
    }
    while (read(e2[0], b, sizeof b) > 0) {
    }
    int st;
    waitpid(pid, &st, 0);
    close(o[0]);
    close(e2[0]);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  return summarize(ms, std::chrono::duration<double>(Clock::now() - w0).count());
}

// Through the client the operator uses (k8s::SidecarClient, direct transport).
Stats bench_http(const std::string& addr, const std::string& token, int n, int conc) {
  std::vector<std::vector<double>> per(conc);
  std::atomic<int> failures{0};
  arl::core::ExecuteRequest req;
  req.command = {"true"};
  auto w0 = Clock::now();
  std::vector<std::thread> ts;
  for (int t = 0; t < conc; ++t) {
    ts.emplace_back([&, t] {
      arl::k8s::SidecarClient c(std::make_unique<arl::k8s::DirectTransport>(arl::k8s::DirectOptions{addr, token}));
      for (int i = t; i < n; i += conc) {
        auto t0 = Clock::now();
        try {
          if (c.execute(req).exit_code != 0) ++failures;
        } catch (const std::exception&) {
          ++failures;
        }
        per[t].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      }
    });
  }
  for (auto& th : ts) th.join();
  double wall = std::chrono::duration<double>(Clock::now() - w0).count();
  std::vector<double> all;
  for (auto& v : per) all.insert(all.end(), v.begin(), v.end());
  if (failures) std::fprintf(stderr, "warning: %d failed requests\n", failures.load());
  return summarize(all, wall);
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  const int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  std::string addr = argc > 2 ? argv[2] : "";
  const char* tok = std::getenv("ARL_SIDECAR_TOKEN");
  std::string token = tok ? tok : "";
  std::unique_ptr<arl::sidecar::SidecarServer> server;
  std::thread serving;
  if (addr.empty()) {
    arl::sidecar::ServerOptions o;
    o.listen = "127.0.0.1:0";
    o.workdir = "/tmp";
    o.log_requests = false;
    o.token = token;
    server = std::make_unique<arl::sidecar::SidecarServer>(o);
    addr = "127.0.0.1:" + std::to_string(server->bind());
    serving = std::thread([&] { server->serve(); });
  }
  std::printf("sidecar /execute of `true`, %d requests per row, %u cores, sidecar %s\n", n,
              std::thread::hardware_concurrency(), addr.c_str());
  bench_http(addr, token, 200, 1);  // warm up
  auto floor = bench_posix_spawn(n);
  print("floor: posix_spawn+wait /bin/true", floor);
  print("floor: executor spawn+pipes+wait", bench_executor_spawn(n));
  auto c1 = bench_http(addr, token, n, 1);
  print("HTTP /execute, concurrency 1", c1);
  print("HTTP /execute, concurrency 16", bench_http(addr, token, n, 16));
  std::printf("ratio HTTP c1 p50 / posix_spawn p50: %.2fx\n", c1.p50 / floor.p50);
  if (server) {
    server->stop();
    serving.join();
  }
  return 0;
}
