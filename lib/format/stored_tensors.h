// How the quantized checkpoint layouts (quantized_checkpoint.h, gptq_checkpoint.h,
// compressed_tensors.h) meet their tensors. Writing: the model's tensors in order, float ones as
// they are, each quantized weight as the tensors its layout stores. Reading: the file's tensors
// by name while a reader claims the ones its layout stores: each is taken out once, checked for
// its dtype and shape, and what no reader took stays behind, in file order, as float tensors.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "lib/model/model.h"
#include "lib/model/tensor.h"

namespace slmc {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// model.tensors in order: a float tensor as it is, a quantized weight `name` as what
// `write(name, q, out)` appends for it.
NamedTensors layoutTensors(const Model& model,
                           const std::function<void(const std::string&, const QuantizedTensor&, NamedTensors&)>& write);

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
