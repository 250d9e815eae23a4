// The tensors of a checkpoint by name while a quantized-layout reader (quantized_checkpoint.h,
// gptq_checkpoint.h) claims the ones its layout stores: each is taken out once, checked for its
// dtype and shape, and what no reader took stays behind, in file order, as float tensors.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "lib/model/tensor.h"

namespace slmc {

struct StoredTensors {
  std::map<std::string, Tensor> by_name;
  std::vector<std::string> order;  // as the file lists them

  // Moves the tensors of `raw` in (raw's tensors are left moved-from).
  explicit StoredTensors(std::vector<std::pair<std::string, Tensor>>& raw);

  // Removes and returns the tensor `name`, which must be there as `dtype` `shape`; otherwise one
  // line naming it. `origin` names the directory, `format` the layout ("GPTQ checkpoint").
  Tensor take(const std::string& name, DType dtype, const Shape& shape, const std::string& origin,
              const std::string& format);
};

}  // namespace slmc
