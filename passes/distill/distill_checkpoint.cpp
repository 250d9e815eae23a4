#include "passes/distill/distill_checkpoint.h"

#include <filesystem>

#include "lib/format/safetensors.h"
#include "lib/support/atomic_file.h"
#include "lib/support/error.h"
#include "lib/support/file_util.h"

namespace slmc {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {
constexpr const char* kFormat = "slmc-distill-checkpoint";
}

void writeDistillCheckpoint(const std::string& dir, const DistillCheckpoint& checkpoint) {
  const fs::path target(dir), temp(dir + ".tmp"), old(dir + ".old");
  std::error_code ec;
  fs::remove_all(temp, ec);
  fs::create_directories(temp, ec);
  require(!ec, "cannot create checkpoint directory '" + temp.string() + "': " + ec.message() +
                   " (choose a writable checkpoint directory)");
  json state = checkpoint.state;
  state["format"] = kFormat;
  state["version"] = kDistillCheckpointVersion;
  writeSafetensors((temp / "student.safetensors").string(), checkpoint.weights);
  writeSafetensors((temp / "optimizer.safetensors").string(), checkpoint.optimizer);
  writeFileAtomically((temp / "state.json").string(), state.dump(1) + "\n");
  // Swap directories: the previous checkpoint moves aside until the new one is in place.
  fs::remove_all(old, ec);
  if (fs::exists(target)) fs::rename(target, old);
  fs::rename(temp, target);
  fs::remove_all(old, ec);
}

DistillCheckpoint readDistillCheckpoint(const std::string& dir) {
  const fs::path root(dir);
  const fs::path state_path = root / "state.json";
  require(fs::is_directory(root), "checkpoint '" + dir + "' does not exist (give the checkpoint directory of a run)");
  require(fs::exists(state_path), "'" + dir + "' is not a distillation checkpoint: it has no state.json");
  DistillCheckpoint c;
  try {
    c.state = json::parse(readTextFile(state_path.string()));
  } catch (const json::exception& e) {
    throw Error("checkpoint '" + dir + "': state.json is not valid JSON (" + e.what() + ")");
  }
  require(c.state.is_object() && c.state.value("format", "") == kFormat,
          "'" + dir + "' is not a distillation checkpoint (state.json has no format \"" + kFormat + "\")");
  require(c.state.value("version", 0) == kDistillCheckpointVersion,
          "checkpoint '" + dir + "' has version " + c.state.value("version", json(0)).dump() + ", this slmc reads " +
              std::to_string(kDistillCheckpointVersion) + " (resume with the slmc that wrote it)");
  c.weights = readSafetensors((root / "student.safetensors").string()).tensors;
  c.optimizer = readSafetensors((root / "optimizer.safetensors").string()).tensors;
  return c;
}

std::string fingerprintDifference(const json& saved, const json& current) {
  for (const auto& [key, value] : current.items()) {
    if (!saved.contains(key)) return "it has no " + key;
    if (saved[key] != value) return "its " + key + " is " + saved[key].dump() + ", this run's is " + value.dump();
  }
  return {};
}

}  // namespace slmc
