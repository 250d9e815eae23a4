// Hidden-state distillation (distill_torch.h's HiddenStateMatch): which student layer learns
// which teacher layer's residual stream, and the two distances between them.
#include <sstream>

#include "lib/support/error.h"
#include "passes/distill/distill_torch.h"

namespace slmc::distill {

std::vector<std::pair<int64_t, int64_t>> hiddenLayerPairs(const std::string& map, int64_t student_layers,
                                                          int64_t teacher_layers) {
  std::vector<std::pair<int64_t, int64_t>> pairs;
  if (map.empty() || map == "auto") {
    // Student layer i ↔ the teacher layer as far through the teacher's depth: the last layers
    // always meet (a student with layers dropped still ends where the teacher ends).
    for (int64_t i = 0; i < student_layers; ++i)
      pairs.emplace_back(i, ((i + 1) * teacher_layers + student_layers - 1) / student_layers - 1);
    return pairs;
  }
  std::istringstream items(map);
  std::string item;
  while (std::getline(items, item, ',')) {
    long long s = -1, t = -1;
    char colon = 0, extra = 0;
    std::istringstream fields(item);
    require(static_cast<bool>(fields >> s >> colon >> t) && colon == ':' && !(fields >> extra),
            "hidden_layers '" + map + "': '" + item +
                "' is not STUDENT:TEACHER (give pairs of layer indices such as 0:0,5:9, or auto)");
    require(s >= 0 && s < student_layers, "hidden_layers '" + map + "': student layer " + std::to_string(s) +
                                              " does not exist (the student has " + std::to_string(student_layers) +
                                              " layers, 0 to " + std::to_string(student_layers - 1) + ")");
    require(t >= 0 && t < teacher_layers, "hidden_layers '" + map + "': teacher layer " + std::to_string(t) +
                                              " does not exist (the teacher has " + std::to_string(teacher_layers) +
                                              " layers, 0 to " + std::to_string(teacher_layers - 1) + ")");
    for (const auto& [ps, pt] : pairs)
      require(ps != s, "hidden_layers '" + map + "': student layer " + std::to_string(s) + " is mapped twice");
    pairs.emplace_back(s, t);
  }
  require(!pairs.empty(), "hidden_layers '" + map + "' maps no layer (give pairs such as 0:0,5:9, or auto)");
  return pairs;
}

HiddenStateMatch makeHiddenStateMatch(const ModelConfig& student, const ModelConfig& teacher, const std::string& map) {
  HiddenStateMatch m;
  m.pairs = hiddenLayerPairs(map, student.num_layers, teacher.num_layers);
  if (student.hidden_size == teacher.hidden_size) return m;
  // Widths differ: one learned projection per pair from the student's width to the teacher's,
  // starting as the identity on the shared dimensions.
  for (size_t i = 0; i < m.pairs.size(); ++i) {
    at::Tensor p = at::zeros({teacher.hidden_size, student.hidden_size}, at::kFloat);
    const int64_t shared = std::min(teacher.hidden_size, student.hidden_size);
    p.narrow(0, 0, shared).narrow(1, 0, shared).copy_(at::eye(shared, at::kFloat));
    m.projections.push_back(p.requires_grad_(true));
  }
  return m;
}

std::pair<at::Tensor, at::Tensor> hiddenStateLosses(const HiddenStateMatch& m, const std::vector<at::Tensor>& student,
                                                    const std::vector<at::Tensor>& teacher) {
  at::Tensor mse = at::zeros({}, at::kFloat), cosine = at::zeros({}, at::kFloat);
  for (size_t i = 0; i < m.pairs.size(); ++i) {
    const at::Tensor& t = teacher[static_cast<size_t>(m.pairs[i].second)];
    at::Tensor s = student[static_cast<size_t>(m.pairs[i].first)];
    if (!m.projections.empty()) s = at::matmul(s, m.projections[i].t());
    // Relative to the teacher's own mean square: the residual stream's scale grows with depth
    // (and some channels carry massive activations), so raw MSE would weigh the last layers only.
    mse = mse + (s - t).pow(2).mean() / t.pow(2).mean().clamp_min(1e-12);
    cosine = cosine + (1 - at::cosine_similarity(s, t, -1)).mean();
  }
  const double pairs = static_cast<double>(m.pairs.size());
  return {mse / pairs, cosine / pairs};
}

}  // namespace slmc::distill
