// Checkpoint and restore of a 1,000-file / 10 MB workdir (issue 16 targets:
// both p50 < 30 ms), through the sidecar's HTTP API on loopback like a
// client would call them, plus the engine alone (CheckpointStore, no HTTP).
// "Restore after 100 changed files": 60 files rewritten (half keeping their
// size), 20 deleted, 20 new ones created, then POST /checkpoints/{id}/restore.
// Archives (what a fork costs): GET /checkpoints/base/archive alone, and
// POST /checkpoints/import on a second sidecar fetching it from the first
// over loopback (the pod-to-pod form), without and with its restore into an
// empty workdir, and with keep: false (straight into the empty workdir, what
// a fork asks for); and 8 forks at once (8 sidecars importing from the one
// source together, as `sandbox fork --count 8` has them do), the sidecars'
// share of the fork target (8 forks Ready p50 < 300 ms).
// Usage: checkpoint_bench [iterations] [workdir parent, default $TMPDIR or /tmp]
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "sidecar/checkpoint_store.h"
#include "sidecar/server.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr int kFiles = 1000;
constexpr size_t kTotalBytes = 10 * 1024 * 1024;

double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

void write(const fs::path& p, const std::string& data) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << data;
}

// 50 directories of 20 files, sizes spread around 10 KiB summing to 10 MiB,
// of random bytes: like build outputs and datasets, they do not compress away
// (an archive of repeated bytes would hide what moving 10 MB costs).
std::vector<fs::path> make_workdir(const fs::path& dir, std::mt19937& rng) {
  std::vector<fs::path> files;
  std::vector<size_t> sizes(kFiles);
  size_t left = kTotalBytes;
  for (int i = 0; i < kFiles; ++i) {
    size_t avg = left / static_cast<size_t>(kFiles - i);
    sizes[i] = i == kFiles - 1 ? left : std::uniform_int_distribution<size_t>(avg / 2, avg * 3 / 2)(rng);
    left -= sizes[i];
  }
  for (int i = 0; i < kFiles; ++i) {
    fs::path d = dir / ("pkg" + std::to_string(i / 20));
    fs::create_directories(d);
    fs::path f = d / ("mod" + std::to_string(i % 20) + ".py");
    std::string data(sizes[i], '\0');
    for (auto& ch : data) ch = static_cast<char>(rng());
    write(f, data);
    files.push_back(f);
  }
  return files;
}

void change_100(const fs::path& dir, std::vector<fs::path> files, std::mt19937& rng, int round) {
  std::shuffle(files.begin(), files.end(), rng);
  for (int i = 0; i < 60; ++i) {
    auto size = fs::file_size(files[i]);
    write(files[i], std::string(i % 2 ? size : size + 100, static_cast<char>('A' + round % 26)));
  }
  for (int i = 60; i < 80; ++i) fs::remove(files[i]);
  for (int i = 80; i < 100; ++i) write(dir / ("new-" + std::to_string(i) + ".txt"), std::string(4096, 'n'));
}

struct Figures {
  double p50, p90;
};

Figures summarize(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<size_t>(q * static_cast<double>(ms.size())))]; };
  return {at(0.5), at(0.9)};
}

void print(const char* what, const Figures& f) { std::printf("%-46s p50 %7.2f ms   p90 %7.2f ms\n", what, f.p50, f.p90); }

json post(httplib::Client& c, const std::string& path, const json& body) {
  auto r = c.Post(path.c_str(), body.dump(), "application/json");
  if (!r || r->status != 200) {
    std::fprintf(stderr, "POST %s failed: %s\n", path.c_str(), r ? r->body.c_str() : "no reply");
    std::exit(1);
  }
  return json::parse(r->body);
}

void del(httplib::Client& c, const std::string& path) {
  auto r = c.Delete(path.c_str());
  if (!r || r->status != 200) {
    std::fprintf(stderr, "DELETE %s failed\n", path.c_str());
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  const int n = argc > 1 ? std::max(1, std::atoi(argv[1])) : 30;
  const char* tmp = std::getenv("TMPDIR");
  fs::path parent = argc > 2 ? argv[2] : (tmp && *tmp ? tmp : "/tmp");
  std::string tmpl = (parent / "arl-checkpoint-bench-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) {
    std::perror("mkdtemp");
    return 1;
  }
  const fs::path base = tmpl;
  const fs::path work = base / "workspace";
  fs::create_directories(work);
  std::mt19937 rng(16);
  auto files = make_workdir(work, rng);

  arl::sidecar::ServerOptions o;
  o.listen = "127.0.0.1:0";
  o.workdir = work.string();
  o.checkpoint_dir = (base / "checkpoints").string();
  o.log_requests = false;
  arl::sidecar::SidecarServer server(o);
  const int port = server.bind();
  std::thread serving([&] { server.serve(); });
  httplib::Client c("127.0.0.1", port);
  c.set_keep_alive(true);
  c.set_tcp_nodelay(true);  // else Nagle holds the body behind the headers for a delayed ACK (40 ms)
  c.set_read_timeout(60, 0);

  std::printf("checkpoint of %d files / %zu MB in %s, %d iterations, %u cores\n", kFiles, kTotalBytes >> 20,
              work.c_str(), n, std::thread::hardware_concurrency());
  post(c, "/checkpoints", json::object());  // warm up: page cache, store directory
  std::vector<double> create_ms, restore_ms, engine_create_ms, engine_restore_ms, create_cpu, restore_cpu;
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    auto info = post(c, "/checkpoints", json::object());
    create_ms.push_back(ms_since(t0));
    del(c, "/checkpoints/" + info["id"].get<std::string>());
  }
  auto base_ckpt = post(c, "/checkpoints", {{"name", "base"}});
  json last;
  for (int i = 0; i < n; ++i) {
    change_100(work, files, rng, i);
    auto t0 = Clock::now();
    last = post(c, "/checkpoints/base/restore", {{"kill_processes", false}});
    restore_ms.push_back(ms_since(t0));
  }
  auto& store = server.checkpoints();
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    double c0 = thread_cpu_ms();
    auto info = store.create("");
    engine_create_ms.push_back(ms_since(t0));
    create_cpu.push_back(thread_cpu_ms() - c0);
    store.remove(info.id);
  }
  for (int i = 0; i < n; ++i) {
    change_100(work, files, rng, i + n);
    auto t0 = Clock::now();
    double c0 = thread_cpu_ms();
    store.restore("base");
    engine_restore_ms.push_back(ms_since(t0));
    restore_cpu.push_back(thread_cpu_ms() - c0);
  }
  std::printf("checkpoint: files %llu, bytes %llu; last restore wrote %llu, removed %llu, unchanged %llu\n",
              base_ckpt["files"].get<unsigned long long>(), base_ckpt["bytes"].get<unsigned long long>(),
              last["written"].get<unsigned long long>(), last["removed"].get<unsigned long long>(),
              last["unchanged"].get<unsigned long long>());
  // The forks' sidecars: each imports from the first one into its own workdir.
  constexpr int kForks = 8;
  struct ForkSidecar {
    fs::path workdir;
    std::unique_ptr<arl::sidecar::SidecarServer> server;
    std::unique_ptr<httplib::Client> client;
    std::thread serving;
  };
  std::vector<ForkSidecar> forks(kForks);
  for (int f = 0; f < kForks; ++f) {
    auto& fk = forks[f];
    fk.workdir = base / ("fork-" + std::to_string(f)) / "workspace";
    fs::create_directories(fk.workdir);
    arl::sidecar::ServerOptions of = o;
    of.workdir = fk.workdir.string();
    of.checkpoint_dir = (base / ("fork-" + std::to_string(f)) / "checkpoints").string();
    fk.server = std::make_unique<arl::sidecar::SidecarServer>(of);
    const int fport = fk.server->bind();
    fk.serving = std::thread([&fk] { fk.server->serve(); });
    fk.client = std::make_unique<httplib::Client>("127.0.0.1", fport);
    fk.client->set_keep_alive(true);
    fk.client->set_tcp_nodelay(true);
    fk.client->set_read_timeout(60, 0);
  }
  // Each import starts from an empty workdir, as a fresh pod's does.
  auto reset = [](ForkSidecar& fk) {
    fs::remove_all(fk.workdir);
    fs::create_directories(fk.workdir);
  };
  store.restore("base");
  std::vector<double> export_ms, import_ms, import_restore_ms, concurrent_ms;
  size_t archive_bytes = 0;
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    auto r = c.Get("/checkpoints/base/archive");
    export_ms.push_back(ms_since(t0));
    if (!r || r->status != 200) {
      std::fprintf(stderr, "GET /checkpoints/base/archive failed\n");
      return 1;
    }
    archive_bytes = r->body.size();
  }
  const json peer{{"source_url", "http://127.0.0.1:" + std::to_string(port)}, {"checkpoint", "base"}, {"token", ""}};
  json peer_restore = peer;
  peer_restore["restore"] = true;
  json peer_direct = peer_restore;  // what a fork sends: straight into its empty workdir
  peer_direct["keep"] = false;
  std::vector<double> direct_ms;
  for (int i = 0; i < 2 * n; ++i) {
    auto& fk = forks[0];
    auto t0 = Clock::now();
    auto info = post(*fk.client, "/checkpoints/import", i % 2 ? peer_restore : peer);
    (i % 2 ? import_restore_ms : import_ms).push_back(ms_since(t0));
    del(*fk.client, "/checkpoints/" + info["id"].get<std::string>());
    reset(fk);
  }
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    post(*forks[0].client, "/checkpoints/import", peer_direct);
    direct_ms.push_back(ms_since(t0));
    reset(forks[0]);
  }
  for (int i = 0; i < n; ++i) {
    std::vector<std::thread> running;
    auto t0 = Clock::now();
    for (int f = 0; f < kForks; ++f)
      running.emplace_back([&, f] { post(*forks[f].client, "/checkpoints/import", peer_direct); });
    for (auto& t : running) t.join();
    concurrent_ms.push_back(ms_since(t0));
    for (int f = 0; f < kForks; ++f) reset(forks[f]);
  }
  for (auto& fk : forks) {
    fk.server->stop();
    fk.serving.join();
  }

  auto cp = summarize(create_ms), rs = summarize(restore_ms);
  print("HTTP POST /checkpoints", cp);
  print("HTTP restore after 100 changed files", rs);
  print("engine: checkpoint", summarize(engine_create_ms));
  print("engine: restore after 100 changed files", summarize(engine_restore_ms));
  // CPU time of the calling thread: what the operation costs when it does
  // not share the cores with other work (wall time above includes waiting).
  print("engine: checkpoint, CPU time", summarize(create_cpu));
  print("engine: restore, CPU time", summarize(restore_cpu));
  std::printf("archive of the checkpoint: %zu bytes gzip (level 1)\n", archive_bytes);
  print("HTTP GET /checkpoints/{id}/archive", summarize(export_ms));
  print("peer import (export+import over loopback)", summarize(import_ms));
  print("peer import + restore into an empty workdir", summarize(import_restore_ms));
  print("peer import, keep: false (a fork's)", summarize(direct_ms));
  print("8 forks at once: 8 of those together", summarize(concurrent_ms));
  std::printf("targets (p50 < 30 ms): checkpoint %s, restore %s\n", cp.p50 < 30 ? "met" : "MISSED",
              rs.p50 < 30 ? "met" : "MISSED");
  server.stop();
  serving.join();
  std::error_code ec;
  fs::remove_all(base, ec);
  return 0;
}
