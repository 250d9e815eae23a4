// Resident memory of this process, for the per-pass figures of the report (Linux /proc and
// getrusage; 0 where they are unavailable, never an error: figures must not stop a run).
#pragma once

#include <cstdint>

namespace slmc {

// Resident set size now (/proc/self/statm).
int64_t currentRssBytes();
// The highest resident set size this process has reached so far (getrusage ru_maxrss).
int64_t peakRssBytes();

}  // namespace slmc
