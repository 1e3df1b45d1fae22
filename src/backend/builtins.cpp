// The built-in backends, registered on first use of the registry.
namespace facerec {
void register_opencv_dnn_backend();
void register_reference_backend();
void register_onednn_backend();
void register_xnnpack_backend();

void register_builtin_backends() {
  register_opencv_dnn_backend();
  register_reference_backend();
  register_onednn_backend();
  register_xnnpack_backend();
}
}  // namespace facerec
