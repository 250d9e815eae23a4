#include "apps/rank_launcher.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "lib/support/data_parallel.h"
#include "lib/support/error.h"
#include "lib/support/temp_paths.h"

namespace slmc {

namespace fs = std::filesystem;

namespace {

// A TCP port nothing listens on now (the kernel's pick for port 0), for rank 0's rendezvous.
int freeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  require(fd >= 0, std::string("cannot open a socket to pick the ranks' port: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  require(ok, std::string("cannot bind a loopback port for the ranks' rendezvous: ") + std::strerror(errno));
  return ntohs(address.sin_port);
}

// The last non-empty line of a file ("" when there is none).
std::string lastLine(const fs::path& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return last;
}

std::string howItEnded(int status) {
  if (WIFSIGNALED(status))
    return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}

}  // namespace

std::vector<std::string> withoutNproc(const std::vector<std::string>& argv) {
  std::vector<std::string> out;
  for (size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == "--nproc") {
      ++i;  // its value
      continue;
    }
    if (argv[i].rfind("--nproc=", 0) == 0) continue;
    out.push_back(argv[i]);
  }
  return out;
}

RankOutcome launchLocalRanks(const RankLaunch& launch) {
  const int64_t n = launch.nproc;
  const int port = freeLoopbackPort();
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::string> args = withoutNproc(launch.argv);
  // Ranks share the cores: more threads than cores would spin against each other.
  if (launch.threads == 0)
    args.insert(args.begin() + 1, {"--threads", std::to_string(std::max<int64_t>(1, cores / n))});
  std::vector<char*> child_argv;
  for (std::string& a : args) child_argv.push_back(a.data());
  child_argv.push_back(nullptr);

  // The helpers' stderr, for the failure line; removed when the launcher returns.
  const fs::path logs = fs::temp_directory_path() / ("slmc-ranks-" + std::to_string(::getpid()));
  fs::remove_all(logs);
  fs::create_directories(logs);
  const RegisteredTempPath logs_registered(logs.string());
  struct RemoveLogs {
    fs::path dir;
    ~RemoveLogs() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  } remove_logs{logs};

  // Per rank: "rank<R>.error" holds its error line (runCli writes it), "rank<R>.stderr" a helper's stderr.
  const auto rank_file = [&](int64_t rank, const char* kind) {
    return (logs / ("rank" + std::to_string(rank) + kind)).string();
  };

  // Everything a child needs is built before fork: between fork and exec only system calls run.
  const char* const torchrun_variables[] = {"RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR",
                                            "MASTER_PORT", kRankErrorFileVariable};
  std::vector<std::string> inherited;
  for (char** e = ::environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string key = entry.substr(0, entry.find('='));
    if (std::none_of(std::begin(torchrun_variables), std::end(torchrun_variables),
                     [&](const char* v) { return key == v; }))
      inherited.push_back(entry);
  }
  std::vector<pid_t> pids(static_cast<size_t>(n), -1);
  for (int64_t rank = 0; rank < n; ++rank) {
    std::vector<std::string> env = inherited;
    for (const char* v : {"RANK", "LOCAL_RANK"}) env.push_back(std::string(v) + "=" + std::to_string(rank));
    for (const char* v : {"WORLD_SIZE", "LOCAL_WORLD_SIZE"}) env.push_back(std::string(v) + "=" + std::to_string(n));
    env.push_back("MASTER_ADDR=127.0.0.1");
    env.push_back("MASTER_PORT=" + std::to_string(port));
    env.push_back(std::string(kRankErrorFileVariable) + "=" + rank_file(rank, ".error"));
    std::vector<char*> child_env;
    for (std::string& e : env) child_env.push_back(e.data());
    child_env.push_back(nullptr);
    const std::string log = rank_file(rank, ".stderr");
    const pid_t pid = ::fork();
    require(pid >= 0, std::string("cannot start data-parallel rank ") + std::to_string(rank) + ": " +
                          std::strerror(errno));
    if (pid == 0) {
      if (rank != 0) {  // quiet helpers: no summary on stdout, stderr kept for the failure line
        const int null_fd = ::open("/dev/null", O_WRONLY);
        const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (null_fd >= 0) ::dup2(null_fd, STDOUT_FILENO);
        if (log_fd >= 0) ::dup2(log_fd, STDERR_FILENO);
      }
      ::execve("/proc/self/exe", child_argv.data(), child_env.data());
      static const char message[] = "slmc: error: cannot start a data-parallel rank (exec of /proc/self/exe failed)\n";
      [[maybe_unused]] const ssize_t ignored = ::write(STDERR_FILENO, message, sizeof message - 1);
      ::_exit(127);
    }
    pids[static_cast<size_t>(rank)] = pid;
  }

  // Wait for every rank. After the first failure the others get kStopGrace to end by themselves
  // (rank 0 may be finishing a checkpoint; the next all-reduce fails them anyway), then SIGTERM
  // (a rank blocked on a peer that is gone); ranks ended that way are not causes.
  constexpr auto kStopGrace = std::chrono::seconds(10);
  std::vector<int> status(static_cast<size_t>(n), 0);
  std::vector<bool> stopped(static_cast<size_t>(n), false);
  std::vector<int64_t> failures;  // in the order they ended
  std::chrono::steady_clock::time_point first_failure;
  for (int64_t left = n; left > 0;) {
    int s = 0;
    const pid_t pid = ::waitpid(-1, &s, failures.empty() ? 0 : WNOHANG);
    if (pid < 0) break;
    if (pid == 0) {  // a failure happened; the others are still running
      if (std::chrono::steady_clock::now() - first_failure > kStopGrace)
        for (size_t other = 0; other < pids.size(); ++other)
          if (pids[other] > 0 && !stopped[other]) {
            ::kill(pids[other], SIGTERM);
            stopped[other] = true;
          }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    const auto it = std::find(pids.begin(), pids.end(), pid);
    if (it == pids.end()) continue;
    --left;
    const auto rank = static_cast<size_t>(it - pids.begin());
    status[rank] = s;
    *it = -1;
    if (WIFEXITED(s) && WEXITSTATUS(s) == 0) continue;
    if (failures.empty()) first_failure = std::chrono::steady_clock::now();
    failures.push_back(static_cast<int64_t>(rank));
  }
  RankOutcome out;
  if (failures.empty()) return out;
  const auto error_of = [&](int64_t rank) { return lastLine(rank_file(rank, ".error")); };
  const auto lost_contact = [&](int64_t rank) { return error_of(rank).find(kLostRanksMarker) != std::string::npos; };
  // The cause: a rank killed by a signal the launcher did not send, else the first error that is
  // not a rank losing the one that failed, else the first failure.
  int64_t cause = -1;
  for (int64_t r : failures)
    if (cause < 0 && WIFSIGNALED(status[static_cast<size_t>(r)]) &&
        !(stopped[static_cast<size_t>(r)] && WTERMSIG(status[static_cast<size_t>(r)]) == SIGTERM))
      cause = r;
  for (int64_t r : failures)
    if (cause < 0 && WIFEXITED(status[static_cast<size_t>(r)]) && !error_of(r).empty() && !lost_contact(r)) cause = r;
  if (cause < 0) cause = failures.front();
  const int s = status[static_cast<size_t>(cause)];
  out.exit_code = WIFEXITED(s) ? WEXITSTATUS(s) : 1;
  const std::string said = error_of(cause);
  if (!said.empty() && WIFEXITED(s)) {
    // Rank 0's error is the command's own (every rank checks the same setup); a helper's is named.
    out.failure = cause == 0 ? said : "error: data-parallel rank " + std::to_string(cause) + " of " +
                                          std::to_string(n) + ": " + said.substr(said.find(": ") + 2);
    return out;
  }
  std::string line = "error: data-parallel rank " + std::to_string(cause) + " of " + std::to_string(n) + " " +
                     howItEnded(s) + "; the other ranks stopped";
  const std::string stderr_tail = lastLine(rank_file(cause, ".stderr"));
  if (!stderr_tail.empty()) line += " (its last line: " + stderr_tail + ")";
  if (!launch.checkpoint_dir.empty() && fs::exists(fs::path(launch.checkpoint_dir) / "state.json"))
    line += "; the last checkpoint '" + launch.checkpoint_dir + "' is kept (continue with --resume " +
            launch.checkpoint_dir + ")";
  out.failure = line;
  return out;
}

}  // namespace slmc
