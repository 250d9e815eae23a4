// An error in what the user asked for rather than in the work: a malformed gate, a report that
// cannot be read or compared. The CLI prints it as one line like any Error but exits with 2, so a
// CI job tells "the gate could not be evaluated" (2) from "the new artifact is worse" (1).
#pragma once

#include "lib/support/error.h"

namespace slmc {

class UsageError : public Error {
 public:
  using Error::Error;
};

}  // namespace slmc
