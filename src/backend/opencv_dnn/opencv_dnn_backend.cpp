// OpenCV DNN backend (CPU). Options: threads -> cv::setNumThreads, which is process-wide in
// OpenCV: the last backend loaded decides. extra["engine"] is not used yet.
// Batches: OpenCV 4.6 runs some graphs wrongly at a batch size other than the one it first saw
// (tests/test_ops.cpp, test_parity.cpp: a [1,C,1,1] constant added at batch 3 aborts, Squeeze
// and ReduceMean return [3,1,C] for [3,C], MobileFaceNet's PReLU aborts). A batch of N > 1 on a
// free batch dimension is therefore run as N forward passes of one item, outputs concatenated.
#include <facerec/backend.hpp>
#include <facerec/error.hpp>

#include "backend/onnx_info.hpp"

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

#include <algorithm>
#include <cstring>

namespace facerec {
namespace {

class OpenCvDnnBackend final : public InferenceBackend {
 public:
  void load(const std::string& model_path, const BackendOptions& options) override {
    if (options.precision != Precision::FP32)
      throw Error(ErrorKind::Unsupported, "opencv-dnn: only fp32 is supported on the CPU target (asked: " +
                                              std::string(to_string(options.precision)) + ")");
    auto info = detail::read_onnx_info(model_path);  // clear errors before OpenCV sees the file
    cv::dnn::Net net;
    try {
      net = cv::dnn::readNetFromONNX(model_path);
    } catch (const cv::Exception& e) {
      std::string what = e.what();
      auto kind = what.find("nsupported") != std::string::npos || what.find("not supported") != std::string::npos
                      ? ErrorKind::Unsupported
                      : ErrorKind::BadModel;
      throw Error(kind, "opencv-dnn cannot load " + model_path + ": " + e.err);
    }
    if (net.empty()) throw Error(ErrorKind::BadModel, "opencv-dnn loaded an empty network from " + model_path);
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    if (options.threads > 0) cv::setNumThreads(options.threads);
    net_ = std::move(net);
    info_ = std::move(info);
    path_ = model_path;
    options_ = options;
    for (const auto& o : info_.outputs) out_names_.push_back(o.name);
  }

  std::vector<TensorSpec> inputs() const override { return info_.inputs; }
  std::vector<TensorSpec> outputs() const override { return info_.outputs; }

  std::vector<Tensor> run(const std::vector<Tensor>& batch) override {
    if (net_.empty()) throw Error(ErrorKind::InvalidArgument, "opencv-dnn: run() before load()");
    check_batch(batch);
    int64_t n = split_batch(batch);
    if (n <= 1) return forward(batch);
    std::vector<Tensor> result;
    for (int64_t b = 0; b < n; ++b) {
      std::vector<Tensor> one;
      for (const auto& t : batch) {
        size_t item = t.data.size() / size_t(n);
        Tensor s;
        s.shape = t.shape;
        s.shape[0] = 1;
        s.data.assign(t.data.begin() + std::ptrdiff_t(item * size_t(b)),
                      t.data.begin() + std::ptrdiff_t(item * size_t(b + 1)));
        one.push_back(std::move(s));
      }
      auto outs = forward(one);
      if (b == 0) {
        result = std::move(outs);
        for (auto& t : result) {
          if (t.shape.empty() || t.shape[0] != 1)
            throw Error(ErrorKind::Unsupported, "opencv-dnn: an output of shape " + shape_to_string(t.shape) +
                                                    " has no batch dimension to concatenate along");
          t.shape[0] = n;
          t.data.reserve(t.data.size() * size_t(n));
        }
      } else {
        for (size_t o = 0; o < outs.size(); ++o) {
          auto item = result[o].shape;
          item[0] = 1;
          if (outs[o].shape != item)
            throw Error(ErrorKind::Unsupported, "opencv-dnn: batch item " + std::to_string(b) + " gives an output of " +
                                                    shape_to_string(outs[o].shape) + ", item 0 one of " +
                                                    shape_to_string(item) + ": cannot concatenate");
          result[o].data.insert(result[o].data.end(), outs[o].data.begin(), outs[o].data.end());
        }
      }
    }
    return result;
  }

  std::string name() const override { return "opencv-dnn"; }
  // cv::dnn::Net keeps per-forward state (and its copies share it): a second load
  std::unique_ptr<InferenceBackend> session() const override {
    if (net_.empty()) throw Error(ErrorKind::InvalidArgument, "opencv-dnn: session() before load()");
    auto s = std::make_unique<OpenCvDnnBackend>();
    s->load(path_, options_);
    return s;
  }
  Precision precision() const override { return Precision::FP32; }

 private:
  // The batch size to split into single items: the common first dimension of the inputs when
  // every input declares it free, else 1 (run as given).
  int64_t split_batch(const std::vector<Tensor>& batch) const {
    int64_t n = 0;
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto& spec = info_.inputs[i].shape;
      if (spec.empty() || spec[0] != -1 || batch[i].shape.empty()) return 1;
      if (n == 0) n = batch[i].shape[0];
      if (batch[i].shape[0] != n) return 1;
    }
    return std::max<int64_t>(n, 1);
  }

  std::vector<Tensor> forward(const std::vector<Tensor>& batch) {
    std::vector<cv::Mat> blobs;  // keep data alive during forward
    for (size_t i = 0; i < batch.size(); ++i) {
      std::vector<int> dims(batch[i].shape.begin(), batch[i].shape.end());
      cv::Mat m(int(dims.size()), dims.data(), CV_32F, const_cast<float*>(batch[i].data.data()));
      blobs.push_back(m);
      net_.setInput(m, info_.inputs[i].name);
    }
    std::vector<cv::Mat> outs;
    try {
      net_.forward(outs, out_names_);
    } catch (const cv::Exception& e) {
      throw Error(ErrorKind::Internal, "opencv-dnn forward failed: " + e.err);
    }
    std::vector<Tensor> result;
    for (auto& m : outs) {
      Tensor t;
      for (int d = 0; d < m.dims; ++d) t.shape.push_back(m.size[d]);
      cv::Mat c = m.isContinuous() ? m : m.clone();
      t.data.resize(c.total());
      std::memcpy(t.data.data(), c.ptr<float>(), c.total() * sizeof(float));
      result.push_back(std::move(t));
    }
    return result;
  }

 private:
  cv::dnn::Net net_;
  detail::OnnxInfo info_;
  std::string path_;
  BackendOptions options_;
  std::vector<cv::String> out_names_;
};

}  // namespace

void register_opencv_dnn_backend() {
  register_backend("opencv-dnn", [] { return std::make_unique<OpenCvDnnBackend>(); });
}

}  // namespace facerec
