// Training throughput on this machine: the BLAS behind libtorch, a 1x1 convolution's GFLOP/s, and
// forward+backward+SGD samples/s (ArcFace head, 1000 classes) of MobileFaceNet-112 and
// IResNet-50-112 on 1 and 2 threads, beside the FLOPs per sample and the fraction of the machine's
// peak (cores x GHz x FP32 FLOP per cycle: 64 with AVX-512, 32 with AVX2 + FMA, from /proc/cpuinfo).
//   build/bench/bench_train [--batch 32] [--steps 5] [--big-batch 8] [--big-steps 2]
#include <facerec/gallery/index.hpp>
#include <facerec/train/backbones.hpp>
#include <facerec/train/losses.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

using Clock = std::chrono::steady_clock;
using namespace facerec::train;

namespace {

// FP32 FLOP per cycle per core and the clock in GHz, as /proc/cpuinfo states them.
std::pair<double, double> core_peak() {
  std::ifstream in("/proc/cpuinfo");
  std::string line, flags;
  double mhz = 0;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) == 0 && flags.empty()) flags = line;
    if (line.rfind("cpu MHz", 0) == 0 && mhz == 0) mhz = std::stod(line.substr(line.find(':') + 1));
  }
  const bool avx512 = flags.find(" avx512f") != std::string::npos;
  const bool avx2 = flags.find(" avx2") != std::string::npos && flags.find(" fma") != std::string::npos;
  return {avx512 ? 64.0 : avx2 ? 32.0 : 8.0, mhz / 1000.0};
}

}  // namespace

int main(int argc, char** argv) {
  int64_t batch = 32, big_batch = 8;
  int steps = 5, big_steps = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--batch") batch = std::stoll(argv[i + 1]);
    if (a == "--steps") steps = std::stoi(argv[i + 1]);
    if (a == "--big-batch") big_batch = std::stoll(argv[i + 1]);
    if (a == "--big-steps") big_steps = std::stoi(argv[i + 1]);
  }
  const auto [flop_per_cycle, ghz] = core_peak();
  std::printf("BLAS: %s\n", facerec::blas_description().c_str());
  std::printf("peak per core: %.0f FP32 FLOP/cycle x %.2f GHz = %.1f GFLOP/s\n", flop_per_cycle, ghz,
              flop_per_cycle * ghz);
  for (int threads : {1, 2}) {
    torch::set_num_threads(threads);
    // 1x1 convolution 256 -> 256 on 16 x 28 x 28: what the BLAS reaches on a plain GEMM-shaped layer
    auto x = torch::randn({16, 256, 28, 28});
    auto conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(256, 256, 1));
    torch::NoGradGuard g;
    conv->forward(x);
    auto t0 = Clock::now();
    const int n = 10;
    for (int i = 0; i < n; ++i) conv->forward(x);
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    const double gf = 2.0 * 16 * 256 * 256 * 28 * 28 * n / s / 1e9;
    std::printf("threads %d: 1x1 conv 256->256 16x28x28: %.1f GFLOP/s (%.0f%% of peak)\n", threads, gf,
                100.0 * gf / (flop_per_cycle * ghz * threads));
  }
  struct Net {
    std::string name;
    int64_t batch;
    int steps;
  };
  for (const Net& spec : {Net{"mobilefacenet", batch, steps}, Net{"iresnet50", big_batch, big_steps}}) {
    torch::manual_seed(1);
    const int64_t dim = spec.name == "mobilefacenet" ? 128 : 512;
    auto net = make_backbone(BackboneOptions{spec.name, dim, 112, 1.0, 0.0});
    int64_t params = 0;
    for (const auto& p : net->parameters()) params += p.numel();
    const int64_t madds = multiply_adds(net);
    // forward + backward ~ 3 x the forward's multiply-adds, 2 FLOP each
    const double flop = 3.0 * 2.0 * double(madds);
    std::printf("%s-112: %.2f M parameters, %.1f M multiply-adds per sample forward, %.2f GFLOP per training sample\n",
                spec.name.c_str(), double(params) / 1e6, double(madds) / 1e6, flop / 1e9);
    for (int threads : {1, 2}) {
      torch::set_num_threads(threads);
      MarginHead head(MarginHeadOptions{HeadKind::ArcFace, 1000, dim});
      std::vector<torch::Tensor> params_all = net->parameters();
      for (const auto& p : head->parameters()) params_all.push_back(p);
      torch::optim::SGD opt(params_all, torch::optim::SGDOptions(0.01).momentum(0.9));
      auto x = torch::randn({spec.batch, 3, 112, 112});
      auto y = torch::randint(0, 1000, {spec.batch}, torch::kInt64);
      auto step = [&] {
        opt.zero_grad();
        auto loss = torch::nn::functional::cross_entropy(head->forward(net->forward(x), y), y);
        loss.backward();
        opt.step();
      };
      step();  // warm-up
      auto t0 = Clock::now();
      for (int i = 0; i < spec.steps; ++i) step();
      double s = std::chrono::duration<double>(Clock::now() - t0).count();
      double rate = double(spec.batch) * spec.steps / s;
      const double gf = rate * flop / 1e9;
      std::printf(
          "threads %d: %s-112 + arcface, batch %lld: %.2f samples/s (forward+backward+step), "
          "%.1f GFLOP/s effective, %.0f%% of peak\n",
          threads, spec.name.c_str(), static_cast<long long>(spec.batch), rate, gf,
          100.0 * gf / (flop_per_cycle * ghz * threads));
    }
  }
}
