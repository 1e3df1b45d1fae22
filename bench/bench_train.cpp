// Training throughput on this machine: the BLAS behind libtorch, a 1x1 convolution's GFLOP/s, and
// MobileFaceNet-112 forward+backward samples/s (ArcFace head, SGD step), on 1 and 2 threads.
//   build/bench/bench_train [--batch 32] [--steps 5]
#include <facerec/gallery/index.hpp>
#include <facerec/train/backbones.hpp>
#include <facerec/train/losses.hpp>

#include <chrono>
#include <cstdio>
#include <string>

using Clock = std::chrono::steady_clock;
using namespace facerec::train;

int main(int argc, char** argv) {
  int64_t batch = 32;
  int steps = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--batch") batch = std::stoll(argv[i + 1]);
    if (a == "--steps") steps = std::stoi(argv[i + 1]);
  }
  std::printf("BLAS: %s\n", facerec::blas_description().c_str());
  torch::manual_seed(1);
  MobileFaceNet net(BackboneOptions{});
  int64_t params = 0;
  for (const auto& p : net->parameters()) params += p.numel();
  const int64_t madds = multiply_adds(net);
  std::printf("mobilefacenet-112: %.3f M parameters, %.1f M multiply-adds per sample\n", double(params) / 1e6,
              double(madds) / 1e6);
  for (int threads : {1, 2}) {
    torch::set_num_threads(threads);
    {  // 1x1 convolution 256 -> 256 on 16 x 28 x 28
      auto x = torch::randn({16, 256, 28, 28});
      auto conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(256, 256, 1));
      torch::NoGradGuard g;
      conv->forward(x);
      auto t0 = Clock::now();
      const int n = 10;
      for (int i = 0; i < n; ++i) conv->forward(x);
      double s = std::chrono::duration<double>(Clock::now() - t0).count();
      std::printf("threads %d: 1x1 conv 256->256 16x28x28: %.1f GFLOP/s\n", threads,
                  2.0 * 16 * 256 * 256 * 28 * 28 * n / s / 1e9);
    }
    MarginHead head(MarginHeadOptions{HeadKind::ArcFace, 1000, 128});
    std::vector<torch::Tensor> params_all = net->parameters();
    for (const auto& p : head->parameters()) params_all.push_back(p);
    torch::optim::SGD opt(params_all, torch::optim::SGDOptions(0.01).momentum(0.9));
    auto x = torch::randn({batch, 3, 112, 112});
    auto y = torch::randint(0, 1000, {batch}, torch::kInt64);
    auto step = [&] {
      opt.zero_grad();
      auto loss = torch::nn::functional::cross_entropy(head->forward(net->forward(x), y), y);
      loss.backward();
      opt.step();
    };
    step();  // warm-up
    auto t0 = Clock::now();
    for (int i = 0; i < steps; ++i) step();
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    double rate = double(batch) * steps / s;
    std::printf(
        "threads %d: mobilefacenet-112 + arcface, batch %lld: %.1f samples/s (forward+backward+step), "
        "%.1f GFLOP/s effective (3 x multiply-adds x 2)\n",
        threads, static_cast<long long>(batch), rate, rate * 3.0 * 2.0 * double(madds) / 1e9);
  }
}
