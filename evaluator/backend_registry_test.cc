// The backend registry: a device backend is found only when its library registered it (the CUDA
// library does so by itself when it is linked in), --device cuda without one is a clear error that
// names the fix, and auto falls back to the CPU unless GPUs were named.
#include "evaluator/backend_registry.h"

#include <gtest/gtest.h>

#include "evaluator/evaluator.h"
#include "evaluator/workload.h"

namespace adrs {
namespace {

TEST(BackendRegistry, TheCudaLibraryRegistersItselfExactlyWhenItIsLinkedIn) {
#ifdef ADRS_HAVE_CUDA
  ASSERT_NE(find_device_backend("cuda"), nullptr) << "the registrar of kernels/cuda_registration.cc was dropped by the linker";
#else
  EXPECT_EQ(find_device_backend("cuda"), nullptr);
  EXPECT_EQ(usable_gpus(), 0);
  EXPECT_FALSE(scores_on_gpu(Device::kAuto));
#endif
  EXPECT_EQ(find_device_backend("no-such-backend"), nullptr);
}

TEST(BackendRegistry, ARegisteredFactoryIsFoundByName) {
  DeviceBackendFactory fake;
  fake.name = "test-device";
  fake.status = [] { return Status::Error("test device: not really there"); };
  fake.device_count = [] { return 0; };
  EXPECT_TRUE(register_device_backend(fake));
  const DeviceBackendFactory* found = find_device_backend("test-device");
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->status().message(), "test device: not really there");
}

TEST(BackendRegistry, DeviceNamesRoundTrip) {
  for (Device d : {Device::kCpu, Device::kCuda, Device::kAuto}) {
    Device back = Device::kCpu;
    ASSERT_TRUE(parse_device(device_name(d), &back));
    EXPECT_EQ(back, d);
  }
  Device unused;
  EXPECT_FALSE(parse_device("gpu", &unused));
}

TEST(BackendRegistry, WithoutAUsableGpuCudaIsAnErrorAndAutoScoresOnTheCpu) {
  if (usable_gpus() > 0) GTEST_SKIP() << "a GPU is usable here; the CUDA tests cover this path";
  Workload w;
  ASSERT_TRUE(make_workload("smoke", &w).ok());
  std::unique_ptr<Backend> backend;
  BackendChoice choice;
  choice.device = Device::kCuda;
  Status s = make_backend(choice, w, &backend);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("use --device cpu or auto"), std::string::npos) << s.message();
  choice.device = Device::kAuto;
  choice.gpu_required = true;  // evaluation.devices named GPUs: no silent CPU fallback
  EXPECT_FALSE(make_backend(choice, w, &backend).ok());
  choice.gpu_required = false;
  ASSERT_TRUE(make_backend(choice, w, &backend).ok());
  EXPECT_EQ(backend->label(), "cpu");
}

}  // namespace
}  // namespace adrs
