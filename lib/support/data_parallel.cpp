#include "lib/support/data_parallel.h"

#include <cerrno>
#include <cstdlib>

#include "lib/support/error.h"

namespace slmc {

namespace {
// The integer in environment variable `name`, or `fallback` when it is unset.
int64_t integerVariable(const char* name, int64_t fallback) {
  const char* text = std::getenv(name);
  if (text == nullptr) return fallback;
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text, &end, 10);
  require(*text != '\0' && *end == '\0' && errno == 0,
          std::string("environment variable ") + name + "='" + text +
              "' is not an integer (torchrun's convention: RANK, WORLD_SIZE, LOCAL_WORLD_SIZE and MASTER_PORT are "
              "numbers)");
  return value;
}
}  // namespace

DataParallelGroup dataParallelFromEnvironment() {
  DataParallelGroup g;
  if (std::getenv("WORLD_SIZE") == nullptr) return g;
  g.world_size = integerVariable("WORLD_SIZE", 1);
  g.rank = integerVariable("RANK", 0);
  g.local_world_size = integerVariable("LOCAL_WORLD_SIZE", 1);
  if (const char* addr = std::getenv("MASTER_ADDR")) g.master_addr = addr;
  g.master_port = integerVariable("MASTER_PORT", g.master_port);
  validateDataParallelGroup(g);
  return g;
}

void validateDataParallelGroup(const DataParallelGroup& g) {
  require(g.world_size >= 1, "the world size must be >= 1 (WORLD_SIZE / --world-size is " +
                                 std::to_string(g.world_size) + ")");
  require(g.rank >= 0 && g.rank < g.world_size, "rank " + std::to_string(g.rank) + " is outside a world of " +
                                                    std::to_string(g.world_size) +
                                                    " processes (ranks are 0 to world size - 1)");
  require(g.local_world_size >= 1 && g.local_world_size <= g.world_size,
          "LOCAL_WORLD_SIZE=" + std::to_string(g.local_world_size) + " must be between 1 and the world size " +
              std::to_string(g.world_size));
  require(g.master_port >= 1 && g.master_port <= 65535,
          "master port " + std::to_string(g.master_port) + " is not a TCP port (give 1 to 65535)");
  require(!g.master_addr.empty(), "the master address is empty (give --master-addr or MASTER_ADDR)");
}

}  // namespace slmc
