#include "import/onnx/onnx_builder.hpp"

#include <facerec/error.hpp>

#include <onnx/onnx_pb.h>

namespace facerec::detail {

OnnxBuilder::OnnxBuilder(std::string graph_name) : model_(new onnx::ModelProto()) {
  model_->set_ir_version(6);
  model_->set_producer_name("facerec");
  auto* op = model_->add_opset_import();
  op->set_domain("");
  op->set_version(kOpset);
  model_->mutable_graph()->set_name(std::move(graph_name));
}

OnnxBuilder::~OnnxBuilder() { delete model_; }

std::string OnnxBuilder::unique(const std::string& hint) {
  std::string base = hint.empty() ? "t" : hint;
  auto it = used_.find(base);
  if (it == used_.end()) {
    used_[base] = 1;
    return base;
  }
  for (;;) {
    std::string candidate = base + "_" + std::to_string(it->second++);
    if (!used_.count(candidate)) {
      used_[candidate] = 1;
      return candidate;
    }
  }
}

namespace {
// One initializer with raw little-endian data (the form every ONNX reader accepts).
std::string add_raw_initializer(onnx::ModelProto* model, const std::string& name, int data_type,
                                const std::vector<int64_t>& shape, const void* data, size_t bytes) {
  auto* t = model->mutable_graph()->add_initializer();
  t->set_name(name);
  t->set_data_type(data_type);
  for (auto d : shape) t->add_dims(d);
  t->set_raw_data(std::string(static_cast<const char*>(data), bytes));
  return name;
}
}  // namespace

std::string OnnxBuilder::initializer(const std::string& hint, const std::vector<int64_t>& shape,
                                     const std::vector<float>& data) {
  return add_raw_initializer(model_, unique(hint), onnx::TensorProto::FLOAT, shape, data.data(),
                             data.size() * sizeof(float));
}

std::string OnnxBuilder::initializer_i64(const std::string& hint, const std::vector<int64_t>& shape,
                                         const std::vector<int64_t>& data) {
  return add_raw_initializer(model_, unique(hint), onnx::TensorProto::INT64, shape, data.data(),
                             data.size() * sizeof(int64_t));
}

std::string OnnxBuilder::node(const std::string& op, const std::vector<std::string>& inputs, const std::string& hint,
                              const Attrs& attrs) {
  auto* n = model_->mutable_graph()->add_node();
  std::string out = unique(hint);
  n->set_op_type(op);
  n->set_name(out);
  for (const auto& i : inputs) n->add_input(i);
  n->add_output(out);
  for (const auto& [key, value] : attrs) {
    auto* a = n->add_attribute();
    a->set_name(key);
    if (auto* i = std::get_if<int64_t>(&value)) {
      a->set_type(onnx::AttributeProto::INT);
      a->set_i(*i);
    } else if (auto* f = std::get_if<float>(&value)) {
      a->set_type(onnx::AttributeProto::FLOAT);
      a->set_f(*f);
    } else if (auto* s = std::get_if<std::string>(&value)) {
      a->set_type(onnx::AttributeProto::STRING);
      a->set_s(*s);
    } else if (auto* is = std::get_if<std::vector<int64_t>>(&value)) {
      a->set_type(onnx::AttributeProto::INTS);
      for (auto v : *is) a->add_ints(v);
    } else if (auto* fs = std::get_if<std::vector<float>>(&value)) {
      a->set_type(onnx::AttributeProto::FLOATS);
      for (auto v : *fs) a->add_floats(v);
    }
  }
  return out;
}

static void set_type(onnx::ValueInfoProto* v, const std::string& name, const std::vector<int64_t>& shape) {
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  auto* sh = tt->mutable_shape();
  for (auto d : shape) {
    auto* dim = sh->add_dim();
    if (d < 0)
      dim->set_dim_param("batch");
    else
      dim->set_dim_value(d);
  }
}

void OnnxBuilder::input(const std::string& name, const std::vector<int64_t>& shape) {
  used_[name] = 1;
  set_type(model_->mutable_graph()->add_input(), name, shape);
}

void OnnxBuilder::output(const std::string& name, const std::vector<int64_t>& shape) {
  set_type(model_->mutable_graph()->add_output(), name, shape);
}

void OnnxBuilder::rename_output(const std::string& from, const std::string& to) {
  auto* g = model_->mutable_graph();
  auto rename_all = [g](const std::string& a, const std::string& b) {
    for (auto& n : *g->mutable_node()) {
      for (auto& o : *n.mutable_output())
        if (o == a) o = b;
      for (auto& i : *n.mutable_input())
        if (i == a) i = b;
    }
  };
  if (from == to) return;
  for (const auto& i : g->input())
    if (i.name() == to) throw Error(ErrorKind::Internal, "rename_output: '" + to + "' is a graph input");
  if (used_.count(to)) rename_all(to, unique(to));  // move the value that holds the name aside
  used_[to] = 1;
  rename_all(from, to);
}

void OnnxBuilder::prune() {
  auto* g = model_->mutable_graph();
  for (bool changed = true; changed;) {
    changed = false;
    std::map<std::string, int> reads;
    for (const auto& n : g->node())
      for (const auto& i : n.input()) ++reads[i];
    for (const auto& o : g->output()) ++reads[o.name()];
    auto* nodes = g->mutable_node();
    for (int k = nodes->size() - 1; k >= 0; --k) {
      const auto& n = nodes->Get(k);
      bool used = false;
      for (const auto& o : n.output()) used = used || reads.count(o);
      if (!used) {
        nodes->DeleteSubrange(k, 1);
        changed = true;
      }
    }
  }
  std::map<std::string, int> reads;
  for (const auto& n : g->node())
    for (const auto& i : n.input()) ++reads[i];
  auto* inits = g->mutable_initializer();
  for (int k = inits->size() - 1; k >= 0; --k)
    if (!reads.count(inits->Get(k).name())) inits->DeleteSubrange(k, 1);
}

void OnnxBuilder::set_doc(const std::string& producer, const std::string& doc) {
  model_->set_producer_version(producer);
  model_->set_doc_string(doc);
}

int OnnxBuilder::node_count() const { return model_->graph().node_size(); }

std::string OnnxBuilder::serialize() const {
  std::string out;
  if (!model_->SerializeToString(&out)) throw Error(ErrorKind::Internal, "ONNX serialisation failed");
  return out;
}

}  // namespace facerec::detail
