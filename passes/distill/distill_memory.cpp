#include "passes/distill/distill_memory.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "lib/support/error.h"

namespace slmc {

namespace {

int64_t parameterCount(const Model& m) {
  int64_t n = 0;
  for (const auto& [name, t] : m.tensors) n += t.numel();
  return n;
}

std::string gib(int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GiB", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
  return text;
}

// A cgroup v2 limit on this process's memory less what it uses, or -1 (none, or not readable).
int64_t cgroupHeadroom() {
  std::ifstream limit_file("/sys/fs/cgroup/memory.max"), current_file("/sys/fs/cgroup/memory.current");
  std::string limit;
  int64_t current = 0;
  if (!(limit_file >> limit) || limit == "max" || !(current_file >> current)) return -1;
  return std::max<int64_t>(0, std::stoll(limit) - current);
}

}  // namespace

DistillMemoryEstimate estimateDistillMemory(const Model& student, const Model& teacher, int64_t batch, int64_t seq_len,
                                            bool qat, bool recompute) {
  constexpr int64_t kFloat = 4;
  const ModelConfig& c = student.config;
  DistillMemoryEstimate e;
  e.teacher = parameterCount(teacher) * kFloat;
  e.student = parameterCount(student) * kFloat * (qat ? 5 : 4);
  const int64_t tokens = batch * seq_len;
  const int64_t per_token_layer = (10 * c.hidden_size + 4 * c.intermediate_size) * kFloat;
  const int64_t attention_per_layer = 2 * batch * c.num_heads * seq_len * seq_len * kFloat;
  const int64_t logits = 6 * tokens * std::max(c.vocab_size, teacher.config.vocab_size) * kFloat;
  const int64_t one_layer = tokens * per_token_layer + attention_per_layer;
  e.activations = recompute ? c.num_layers * tokens * c.hidden_size * kFloat + one_layer + logits
                            : c.num_layers * one_layer + logits;
  return e;
}

int64_t availableMemoryBytes() {
  if (const char* forced = std::getenv("SLMC_MEMORY_AVAILABLE")) return std::strtoll(forced, nullptr, 10);
  int64_t available = -1;
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    std::istringstream fields(line);
    std::string key;
    int64_t kib = 0;
    if (fields >> key >> kib && key == "MemAvailable:") {
      available = kib * 1024;
      break;
    }
  }
  const int64_t headroom = cgroupHeadroom();
  if (headroom >= 0 && (available < 0 || headroom < available)) available = headroom;
  return available;
}

void requireDistillMemory(const DistillMemoryEstimate& need, int64_t available, int64_t batch, int64_t seq_len,
                          int64_t ranks_here) {
  if (available < 0 || ranks_here * need.total() <= available) return;
  const std::string ranks =
      ranks_here > 1 ? " on each of " + std::to_string(ranks_here) + " ranks on this machine" : std::string();
  throw Error("distillation needs at least " + gib(ranks_here * need.total()) + " for micro-batches of " +
              std::to_string(batch) +
              " x " + std::to_string(seq_len) + " tokens" + ranks + " (teacher " + gib(need.teacher) + ", student with AdamW " +
              gib(need.student) + ", activations " + gib(need.activations) + ") but " + gib(available) +
              " is available: lower --batch (raise --accumulation to keep the tokens per step)" +
              (ranks_here > 1 ? std::string(", --seq-len or --nproc") : std::string(" or --seq-len")));
}

}  // namespace slmc
