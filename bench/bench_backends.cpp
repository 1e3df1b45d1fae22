// Inference time of every imported model on every backend, side by side in one run.
//   build/bench/bench_backends                      opencv-dnn and onednn on 1 and 2 threads, reference on 1
//   build/bench/bench_backends --benchmark_filter=face_recognition
// Prints the load time of each model once, then Google Benchmark's table (time per batch of 1).
#include <facerec/backend.hpp>
#include <facerec/error.hpp>
#include <facerec/models.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <memory>

namespace {

facerec::Tensor test_input(const facerec::TensorSpec& spec) {
  auto shape = spec.shape;
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] < 0) shape[i] = i == 0 || shape.size() < 4 ? 1 : 320;  // a free batch: 1; free image sides: 320
  facerec::Tensor t(shape);
  for (size_t i = 0; i < t.data.size(); ++i) t.data[i] = float(i % 251) / 251.f;
  return t;
}

void run_model(benchmark::State& state, std::string path, std::string backend, int threads) {
  facerec::BackendOptions o;
  o.threads = threads;
  auto net = facerec::load_backend(backend, path, o);
  std::vector<facerec::Tensor> batch;
  for (const auto& in : net->inputs()) batch.push_back(test_input(in));
  net->run(batch);  // warm-up
  for (auto _ : state) benchmark::DoNotOptimize(net->run(batch));
  state.counters["threads"] = threads;
}

}  // namespace

int main(int argc, char** argv) {
  auto manifest = facerec::Manifest::load_default();
  std::printf("%-24s %-10s %10s\n", "model", "backend", "load_ms");
  for (const auto& m : manifest.models()) {
    std::string path;
    try {
      path = facerec::model_path(m).string();
    } catch (const facerec::Error& e) {
      std::fprintf(stderr, "skipping %s: %s\n", m.name.c_str(), e.what());
      continue;
    }
    for (const std::string backend : {"opencv-dnn", "onednn", "reference"}) {
      auto t0 = std::chrono::steady_clock::now();
      facerec::load_backend(backend, path);
      double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      std::printf("%-24s %-10s %10.1f\n", m.name.c_str(), backend.c_str(), ms);
    }
    for (const std::string backend : {"opencv-dnn", "onednn"})
      for (int threads : {1, 2})
        benchmark::RegisterBenchmark((m.name + "/" + backend + "/threads:" + std::to_string(threads)).c_str(),
                                     run_model, path, backend, threads)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
    benchmark::RegisterBenchmark((m.name + "/reference").c_str(), run_model, path, std::string("reference"), 1)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->Iterations(2);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
