// Did-you-mean for unknown names (options, passes, recipe keys, gate figures).
#pragma once

#include <string>
#include <vector>

namespace slmc {

// The candidate closest to `word` by edit distance when it is a plausible typo (at most a third
// of its letters off), else "".
std::string closestMatch(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace slmc
