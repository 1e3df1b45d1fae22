#pragma once
// The reference implementation of every op facerec runs (see reference_ops.cpp).
#include "backend/onnx_graph.hpp"

#include <string>
#include <vector>

namespace facerec::detail {

// True when reference_op implements `op`.
bool reference_has_op(const std::string& op);

// Runs node `n` of graph `g` on `inputs` (one per name in n.in, constants included).
// Throws Error: Unsupported (an op, attribute or type it lacks), InvalidArgument (shapes that do
// not fit), BadModel (inconsistent constants).
Tensor reference_op(const OnnxGraph& g, const OnnxNode& n, const std::vector<const Tensor*>& inputs);

}  // namespace facerec::detail
