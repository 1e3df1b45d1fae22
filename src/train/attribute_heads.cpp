// Attribute heads on frozen embeddings (include/facerec/train/attribute_heads.hpp).
#include <facerec/error.hpp>
#include <facerec/train/attribute_heads.hpp>

namespace facerec::train {

AttributeHeads AttributeHeads::train(const std::vector<std::vector<float>>& rows,
                                     const std::vector<AttributeFactor>& factors,
                                     const std::vector<std::vector<int>>& labels, const AttributeHeadsOptions& o,
                                     const std::function<void(int, double)>& progress) {
  if (rows.empty() || rows[0].empty()) throw Error(ErrorKind::InvalidArgument, "attribute heads: no rows");
  if (factors.empty() || labels.size() != factors.size())
    throw Error(ErrorKind::InvalidArgument, "attribute heads: one label list per factor");
  const int64_t n = int64_t(rows.size()), d = int64_t(rows[0].size());
  for (size_t f = 0; f < factors.size(); ++f) {
    if (factors[f].classes.size() < 2)
      throw Error(ErrorKind::InvalidArgument, "attribute heads: " + factors[f].name + " needs two classes or more");
    if (labels[f].size() != rows.size())
      throw Error(ErrorKind::InvalidArgument, "attribute heads: " + factors[f].name + " has not one label per row");
    for (int c : labels[f])
      if (c < -1 || c >= int(factors[f].classes.size()))
        throw Error(ErrorKind::InvalidArgument, "attribute heads: a label of " + factors[f].name + " is out of range");
  }
  torch::manual_seed(o.seed);
  AttributeHeads h;
  h.factors_ = factors;
  h.dim_ = d;
  h.shared_ = torch::nn::Sequential(torch::nn::Linear(d, o.hidden), torch::nn::ReLU(), torch::nn::Dropout(o.dropout));
  std::vector<torch::Tensor> params = h.shared_->parameters();
  for (const auto& f : factors) {
    h.heads_.emplace_back(torch::nn::Linear(o.hidden, int64_t(f.classes.size())));
    for (auto& p : h.heads_.back()->parameters()) params.push_back(p);
  }
  auto x = torch::empty({n, d});
  for (int64_t i = 0; i < n; ++i) {
    if (int64_t(rows[size_t(i)].size()) != d)
      throw Error(ErrorKind::InvalidArgument, "attribute heads: rows of different lengths");
    std::memcpy(x[i].data_ptr<float>(), rows[size_t(i)].data(), size_t(d) * sizeof(float));
  }
  std::vector<torch::Tensor> y;
  for (const auto& l : labels) y.push_back(torch::tensor(std::vector<int64_t>(l.begin(), l.end()), torch::kLong));
  torch::optim::Adam opt(params, torch::optim::AdamOptions(o.lr).weight_decay(o.weight_decay));
  h.shared_->train();
  for (int e = 0; e < o.epochs; ++e) {
    opt.zero_grad();
    auto z = h.shared_->forward(x);
    auto loss = torch::zeros({});
    for (size_t f = 0; f < factors.size(); ++f)
      loss =
          loss + torch::nn::functional::cross_entropy(
                     h.heads_[f]->forward(z), y[f], torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-1));
    loss.backward();
    opt.step();
    if (progress) progress(e + 1, loss.item<double>());
  }
  h.shared_->eval();
  return h;
}

std::vector<std::vector<float>> AttributeHeads::predict(const std::vector<float>& embedding) const {
  if (int64_t(embedding.size()) != dim_)
    throw Error(ErrorKind::InvalidArgument, "attribute heads: an embedding of " + std::to_string(embedding.size()) +
                                                " values, trained on " + std::to_string(dim_));
  torch::NoGradGuard no_grad;
  auto x = torch::from_blob(const_cast<float*>(embedding.data()), {1, dim_}).clone();
  auto z = shared_->forward(x);
  std::vector<std::vector<float>> out;
  for (auto& head : heads_) {
    auto p = torch::softmax(head->forward(z), 1).contiguous();
    out.emplace_back(p.data_ptr<float>(), p.data_ptr<float>() + p.size(1));
  }
  return out;
}

}  // namespace facerec::train
