#include "lib/support/temp_paths.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

namespace slmc {

namespace fs = std::filesystem;

namespace {

constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};

// Paths registered now. Leaked on purpose: the signal thread may use it while statics are
// destroyed at exit.
struct Registry {
  std::mutex mutex;
  std::multiset<std::string> paths;
};
Registry& registry() {
  static Registry* r = new Registry;
  return *r;
}

sigset_t terminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  for (int s : kSignals) sigaddset(&set, s);
  return set;
}

// A dedicated thread takes the signals with sigwait, so the cleanup may use the filesystem
// library freely (a handler could only call async-signal-safe functions), then dies of the same
// signal so the exit status still says what happened.
void handleSignals() {
  const sigset_t set = terminationSignals();
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  {
    std::lock_guard<std::mutex> lock(registry().mutex);
    for (int pass = 0; pass < 2; ++pass)  // a second pass for a file created during the first
      for (const std::string& p : registry().paths) {
        std::error_code ec;
        fs::remove_all(p, ec);
      }
  }
  signal(sig, SIG_DFL);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  raise(sig);
  _exit(128 + sig);  // not reached: the default action ends the process
}

bool processRuns(pid_t pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

}  // namespace

void installTempPathCleanup() {
  const sigset_t set = terminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread(handleSignals).detach();
}

void registerTempPath(const std::string& path) {
  std::lock_guard<std::mutex> lock(registry().mutex);
  registry().paths.insert(path);
}

void unregisterTempPath(const std::string& path) {
  std::lock_guard<std::mutex> lock(registry().mutex);
  const auto it = registry().paths.find(path);
  if (it != registry().paths.end()) registry().paths.erase(it);
}

RegisteredTempPath::RegisteredTempPath(std::string path) : path_(std::move(path)) { registerTempPath(path_); }

RegisteredTempPath::~RegisteredTempPath() { unregisterTempPath(path_); }

std::string tempPathFor(const std::string& target) { return target + ".tmp." + std::to_string(::getpid()); }

void removeStaleTempPaths(const std::string& target) {
  std::error_code ec;
  const fs::path t(target);
  const fs::path parent = t.parent_path().empty() ? fs::path(".") : t.parent_path();
  const std::string prefix = t.filename().string() + ".tmp.";
  if (prefix == ".tmp.") return;
  for (fs::directory_iterator it(parent, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(digits));
    if (pid <= 0 || pid == ::getpid() || processRuns(pid)) continue;
    std::error_code remove_ec;
    fs::remove_all(it->path(), remove_ec);
  }
}

}  // namespace slmc
