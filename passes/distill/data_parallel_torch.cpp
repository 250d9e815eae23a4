// DataParallel (distill_torch.h) over LibTorch's own c10d: a TCPStore that rank 0 serves for the
// rendezvous, then ProcessGroupGloo's all-reduce over TCP. The gradients go in buckets of at
// most kBucketFloats, so the extra memory is one bucket, not a second copy of the model.
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <algorithm>

#include "lib/support/error.h"
#include "passes/distill/distill_torch.h"

namespace slmc::distill {

namespace {
constexpr int64_t kBucketFloats = int64_t{16} << 20;  // 64 MiB of float32 gradients per all-reduce

std::string firstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

// The address this rank's Gloo transport binds: GLOO_SOCKET_IFNAME names an interface (torch's
// convention); a loopback rendezvous binds loopback; else this host's name (Gloo falls back to
// loopback when it does not resolve).
std::shared_ptr<::gloo::transport::Device> transportDevice(const DataParallelGroup& group) {
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"))
    return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
  if (group.master_addr == "127.0.0.1" || group.master_addr == "localhost")
    return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}
}  // namespace

struct DataParallel::Impl {
  DataParallelGroup group;
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> process_group;

  void allReduce(at::Tensor& flat, const std::string& what) {
    std::vector<at::Tensor> tensors{flat};
    try {
      process_group->allreduce(tensors)->wait();
    } catch (const std::exception& e) {
      throw Error("data-parallel rank " + std::to_string(group.rank) + " of " + std::to_string(group.world_size) +
                  " " + kLostRanksMarker + " while " + what + " (" + firstLine(e.what()) +
                  "): one of them stopped or cannot be reached");
    }
  }
};

DataParallel::DataParallel(const DataParallelGroup& group) {
  validateDataParallelGroup(group);
  if (!group.distributed()) return;
  impl_ = std::make_unique<Impl>();
  impl_->group = group;
  const std::string where = group.master_addr + ":" + std::to_string(group.master_port);
  try {
    c10d::TCPStoreOptions options;
    options.port = static_cast<uint16_t>(group.master_port);
    options.isServer = group.rank == 0;
    options.numWorkers = static_cast<size_t>(group.world_size);
    options.waitWorkers = true;
    impl_->store = c10::make_intrusive<c10d::TCPStore>(group.master_addr, options);
    auto gloo = c10d::ProcessGroupGloo::Options::create();
    gloo->devices.push_back(transportDevice(group));
    impl_->process_group = c10::make_intrusive<c10d::ProcessGroupGloo>(
        impl_->store, static_cast<int>(group.rank), static_cast<int>(group.world_size), gloo);
  } catch (const std::exception& e) {
    throw Error("data-parallel rank " + std::to_string(group.rank) + " could not join the " +
                std::to_string(group.world_size) + " ranks at " + where + " (" + firstLine(e.what()) +
                "): start every rank with the same --master-addr / --master-port, and rank 0 where that address is");
  }
}

DataParallel::~DataParallel() = default;

int64_t DataParallel::rank() const { return impl_ ? impl_->group.rank : 0; }
int64_t DataParallel::worldSize() const { return impl_ ? impl_->group.world_size : 1; }

void DataParallel::sum(std::vector<double>& values, const std::string& what) {
  if (!impl_ || values.empty()) return;
  at::Tensor flat = at::from_blob(values.data(), {static_cast<int64_t>(values.size())}, at::kDouble);
  sum(flat, what);  // in place: the tensor is a view of `values`
}

void DataParallel::sum(at::Tensor& values, const std::string& what) {
  if (!impl_) return;
  impl_->allReduce(values, what);
}

void DataParallel::averageGradients(const std::vector<at::Tensor>& parameters) {
  if (!impl_) return;
  at::NoGradGuard no_grad;
  const double scale = 1.0 / static_cast<double>(impl_->group.world_size);
  size_t first = 0;
  while (first < parameters.size()) {
    // Parameters [first, last) make one bucket (a parameter larger than a bucket goes alone).
    size_t last = first;
    int64_t floats = 0;
    while (last < parameters.size() && (last == first || floats + parameters[last].numel() <= kBucketFloats))
      floats += parameters[last++].numel();
    std::vector<at::Tensor> pieces;
    for (size_t i = first; i < last; ++i) {
      at::Tensor p = parameters[i];
      if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);  // every rank sends the same layout
      pieces.push_back(p.grad().reshape({-1}));
    }
    at::Tensor flat = at::cat(pieces);
    impl_->allReduce(flat, "averaging the gradients");
    flat.mul_(scale);
    int64_t offset = 0;
    for (size_t i = first; i < last; ++i) {
      at::Tensor grad = parameters[i].mutable_grad();
      grad.copy_(flat.narrow(0, offset, grad.numel()).view(grad.sizes()));
      offset += grad.numel();
    }
    first = last;
  }
}

}  // namespace slmc::distill
