// Temporary artifacts (a staging directory, an AtomicFile's temp file) that must not outlive the
// command that writes them, even when it is interrupted. Owners register them while they exist;
// SIGINT, SIGTERM and SIGHUP remove whatever is registered before the process dies of the signal.
// kill -9 cannot be caught: the next command writing the same output removes the staging that
// dead processes left (removeStaleTempPaths).
#pragma once

#include <string>

namespace slmc {

// Blocks the termination signals in the calling thread (and so in every thread created after it)
// and starts the thread that handles them. Call first thing in main, before any thread exists.
void installTempPathCleanup();

// Registers `path` for removal on a termination signal while the object lives. It does not
// remove the path itself: the owner commits (renames) or removes it.
class RegisteredTempPath {
 public:
  explicit RegisteredTempPath(std::string path);
  ~RegisteredTempPath();
  RegisteredTempPath(const RegisteredTempPath&) = delete;
  RegisteredTempPath& operator=(const RegisteredTempPath&) = delete;

 private:
  std::string path_;
};

// The same as free functions, for owners whose layout should not change (AtomicFile).
void registerTempPath(const std::string& path);
void unregisterTempPath(const std::string& path);

// The temp path for `target` owned by this process: "TARGET.tmp.PID".
std::string tempPathFor(const std::string& target);

// Removes "TARGET.tmp.PID" files and directories beside `target` whose PID is no running process
// (left by a command that was killed). Best effort: errors are ignored.
void removeStaleTempPaths(const std::string& target);

}  // namespace slmc
