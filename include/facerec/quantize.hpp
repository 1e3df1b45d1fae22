#pragma once
// facerec::quantize_model — full-int8 post-training quantisation of an ONNX network.
//
// What it does: runs the fp32 network (on the onednn backend) over a calibration set, records the
// range of the input of every convolution, and writes the network in ONNX's QDQ form:
//   x  -> QuantizeLinear(scale_x, zp 0) -> DequantizeLinear -> Conv <- DequantizeLinear(axis 0) <- int8 W
// Weights: symmetric int8, one scale per output channel (or one per tensor), bias kept in fp32.
// Activations: one scale per tensor, uint8 when the calibration never saw a negative value (after a
// ReLU), int8 otherwise, zero point 0. The range is the largest |x| (minmax), a percentile of |x|
// (percentile: clips rare outliers) or the clip of least expected squared quantisation error over
// the |x| histogram (mse: rounding error below the clip against clipping error above it). Convolutions named in
// keep_fp32 (or "first": the first one) (or "last": the heads; "depthwise": every grouped conv) and every non-conv op
// stay fp32 (mixed precision; the result lists each layer). The file keeps the model's opset; per-channel
// DequantizeLinear (axis) is opset 13's, which facerec's onednn and reference backends read at any opset. The onednn
// backend runs the pattern as int8 x int8 convolutions; the reference backend computes it exactly in float (the ideal
// int8 result, what tests compare with). Fully connected layers (Gemm/MatMul with a constant 2-D
// weight) store their weights as int8 (8-bit, per output channel) behind a DequantizeLinear: fp32
// compute, a quarter of the bytes (onednn folds it once at load; the reference backend computes it
// each run).
//
// Thread safety: a pure function of its arguments (it loads its own backend).
#include <facerec/tensor.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace facerec {

struct QuantizeOptions {
  std::string method = "percentile";  // "minmax" | "percentile" | "mse"
  double percentile = 99.99;          // of |x|, for "percentile"
  bool per_channel = true;            // weight scales per output channel (else one per tensor)
  // Conv, Gemm or MatMul node names to leave in fp32; "first": the first conv; "last": every conv
  // or fully connected layer whose output reaches a graph output through no other such layer
  // (detector and landmark heads, whose outputs are coordinates); "depthwise": every grouped conv
  // (oneDNN 2.6's int8 depthwise kernel on AVX2 is slower than its fp32 one: bench_int8)
  std::vector<std::string> keep_fp32;
  int threads = 0;  // for the calibration runs
};

// One convolution's outcome.
struct QuantizedLayer {
  std::string node;
  bool int8 = false;          // a conv computed in int8
  bool weights_only = false;  // a Gemm/MatMul whose weights are stored int8, dequantised at load (fp32 compute)
  std::string why;            // for an fp32 layer: why it was kept
  std::string input;          // the activation it reads
  std::string input_type;     // "uint8" | "int8"
  float input_scale = 0;      // x ~= scale * q
  double input_max = 0;       // largest |x| seen
  double input_range = 0;     // the range the scale covers (max, percentile or mse clip)
  double weight_error = 0;    // largest |W - dequantised W| relative to max |W| of its channel
};

struct QuantizeResult {
  std::string onnx;  // the quantised model, serialised
  std::vector<QuantizedLayer> layers;
  size_t calibration_batches = 0;
  int64_t fp32_weight_bytes = 0;  // conv and fully connected weights before
  int64_t int8_weight_bytes = 0;  // and after
};

// Requires: `model` an ONNX file facerec's backends run; `calibration` at least one batch, each one
// tensor per model input, as the pipeline feeds the network; options.method one of the two.
// Ensures: result.onnx loads on the onednn and reference backends with the same inputs/outputs.
// Throws Error: InvalidArgument (empty calibration, unknown method, a keep_fp32 name that is no conv),
// and what loading or running the model throws. `progress(done, total)` is called per batch.
QuantizeResult quantize_model(const std::filesystem::path& model, const std::vector<std::vector<Tensor>>& calibration,
                              const QuantizeOptions& options = {},
                              const std::function<void(size_t, size_t)>& progress = {});

// A candidate image of a calibration set and its level in each factor (e.g. {"female", "asian",
// "21-40", "frontal", "sharp"}): one entry per factor, the same factors for every candidate.
struct CalibrationCandidate {
  std::string file;
  std::vector<std::string> levels;
};

// Chooses `n` candidates whose levels are as evenly spread as the pool allows, factor by factor:
// greedy — each pick is a candidate whose levels are, summed over the factors, the least chosen so
// far (seeded random tie-break), so scarce levels are taken first and no factor is ignored.
// Requires every candidate to have the same number of levels. Ensures: min(n, pool) distinct
// indices into `pool`, in the order picked. Throws Error(InvalidArgument) on ragged levels.
std::vector<size_t> balanced_sample(const std::vector<CalibrationCandidate>& pool, size_t n, unsigned seed);

// The per-factor counts of the chosen candidates: counts[factor][level].
std::vector<std::map<std::string, size_t>> level_counts(const std::vector<CalibrationCandidate>& pool,
                                                        const std::vector<size_t>& chosen);

}  // namespace facerec
