#include "lib/format/stored_tensors.h"

#include "lib/model/dtype.h"
#include "lib/support/error.h"

namespace slmc {

NamedTensors layoutTensors(const Model& model,
                           const std::function<void(const std::string&, const QuantizedTensor&, NamedTensors&)>& write) {
  NamedTensors out;
  for (const auto& [name, tensor] : model.tensors) {
    auto it = model.quantized.find(name);
    if (it == model.quantized.end())
      out.emplace_back(name, tensor);
    else
      write(name, *it->second, out);
  }
  return out;
}

StoredTensors::StoredTensors(std::vector<std::pair<std::string, Tensor>>& raw) {
  for (auto& [name, t] : raw) {
    order.push_back(name);
    by_name.emplace(name, std::move(t));
  }
}

Tensor StoredTensors::take(const std::string& name, DType dtype, const Shape& shape, const std::string& origin,
                           const std::string& format) {
  auto it = by_name.find(name);
  require(it != by_name.end(), origin + ": " + format + " has no tensor '" + name + "' (incomplete or corrupt file)");
  Tensor t = std::move(it->second);
  by_name.erase(it);
  require(t.dtype() == dtype && t.shape() == shape,
          origin + ": tensor '" + name + "' is " + dtypeName(t.dtype()) + " " + shapeString(t.shape()) + ", expected " +
              dtypeName(dtype) + " " + shapeString(shape) + " (corrupt " + format + ")");
  return t;
}

}  // namespace slmc
