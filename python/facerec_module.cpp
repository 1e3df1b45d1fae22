// Python bindings (pybind11) over the facerec SDK: the module facerec._facerec, re-exported by
// facerec/__init__.py. Images are numpy arrays (H x W x 3 uint8, BGR as OpenCV gives them; H x W
// grey is accepted); points and boxes come back as float32 arrays; embeddings as float32 vectors.
// Errors are facerec.Error with args (message, kind), kind one of "invalid argument", "not found",
// "bad input", "bad model", ... The GIL is released while the pipeline runs.
#include <facerec/analyzer.hpp>
#include <facerec/backend.hpp>
#include <facerec/error.hpp>
#include <facerec/gallery/enrol.hpp>
#include <facerec/gallery/gallery.hpp>
#include <facerec/image.hpp>
#include <facerec/models.hpp>
#include <facerec/version.hpp>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>
#include <opencv2/imgproc.hpp>

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace py = pybind11;
using namespace facerec;

namespace {

using Array = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>;

// A BGR image from a numpy array (copied: the pipeline may keep crops after the call).
cv::Mat to_bgr(const Array& a) {
  auto info = a.request();
  if (info.ndim == 2) {
    cv::Mat grey(int(info.shape[0]), int(info.shape[1]), CV_8UC1, info.ptr);
    cv::Mat bgr;
    cv::cvtColor(grey, bgr, cv::COLOR_GRAY2BGR);
    return bgr;
  }
  if (info.ndim != 3 || info.shape[2] != 3)
    throw Error(ErrorKind::InvalidArgument, "image: expected an H x W x 3 (BGR) or H x W uint8 array");
  return cv::Mat(int(info.shape[0]), int(info.shape[1]), CV_8UC3, info.ptr).clone();
}

py::array_t<uint8_t> from_bgr(const cv::Mat& m) {
  cv::Mat c = m.isContinuous() ? m : m.clone();
  py::array_t<uint8_t> out({c.rows, c.cols, c.channels()});
  std::memcpy(out.mutable_data(), c.data, c.total() * c.elemSize());
  return out;
}

py::array_t<float> points(const std::vector<cv::Point2f>& p) {
  py::array_t<float> out({py::ssize_t(p.size()), py::ssize_t(2)});
  auto r = out.mutable_unchecked<2>();
  for (size_t i = 0; i < p.size(); ++i) {
    r(py::ssize_t(i), 0) = p[i].x;
    r(py::ssize_t(i), 1) = p[i].y;
  }
  return out;
}

py::array_t<float> vec(const std::vector<float>& v) {
  py::array_t<float> out(py::ssize_t(v.size()));
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

std::vector<float> to_vec(const py::array_t<float, py::array::c_style | py::array::forcecast>& a) {
  if (a.ndim() != 1) throw Error(ErrorKind::InvalidArgument, "embedding: expected a 1-d float array");
  return std::vector<float>(a.data(), a.data() + a.size());
}

// One face as Python sees it: plain attributes, numpy arrays.
struct PyFace {
  py::array_t<float> box;  // x, y, width, height
  float score = 0;
  py::array_t<float> keypoints, landmarks, five;
  py::array_t<float> embedding;
  py::dict quality;  // score, components and measurements (FaceQuality::fields)
  Face face;         // the C++ face (for enrolment)
};

PyFace to_py(Face f) {
  PyFace p;
  const auto& b = f.detection.box;
  p.box = vec({b.x, b.y, b.width, b.height});
  p.score = f.detection.score;
  p.keypoints = points(f.detection.keypoints);
  p.landmarks = points(f.landmarks);
  p.five = points(std::vector<cv::Point2f>(f.five.begin(), f.five.end()));
  p.embedding = vec(f.embedding);
  for (const auto& [k, v] : f.quality.fields()) p.quality[py::str(k)] = v;
  p.face = std::move(f);
  return p;
}

// A FaceAnalyzer as Python holds it: Python code may share one between threads (the GIL is
// released while it runs), so calls on one instance take turns.
struct PyAnalyzer {
  std::unique_ptr<FaceAnalyzer> fa;
  std::mutex mu;
};

// The profile's options (the library defaults without one), then every argument given (not None).
AnalyzerOptions analyzer_options(const std::string& profile, const std::optional<std::string>& detector,
                                 const std::optional<std::string>& landmarker,
                                 const std::optional<std::string>& embedder, std::optional<bool> flip,
                                 std::optional<bool> zoom, const std::optional<std::string>& backend,
                                 std::optional<int> threads, std::optional<int> min_face) {
  AnalyzerOptions o = profile.empty() ? AnalyzerOptions{} : analyzer_profile(profile);
  if (detector) o.detector.model = *detector;
  if (landmarker) o.landmarker.model = *landmarker;
  if (embedder) o.embedder.model = *embedder;
  if (flip) o.embedder.flip = *flip;
  if (zoom) o.embedder.zoom = *zoom;
  if (backend) o.detector.backend = o.landmarker.backend = o.embedder.backend = *backend;
  if (threads) o.detector.threads = o.landmarker.threads = o.embedder.threads = *threads;
  if (min_face) o.detector.min_face = *min_face;
  return o;
}

}  // namespace

PYBIND11_MODULE(_facerec, m) {
  m.doc() = "facerec: face detection, alignment, embedding and matching on the CPU";
  static py::exception<Error> error(m, "Error", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      py::object args = py::make_tuple(std::string(e.what()), std::string(to_string(e.kind())));
      PyErr_SetObject(error.ptr(), args.ptr());
    }
  });
  m.def("version", &version, "The library version");
  m.def("profiles", &analyzer_profiles, "The speed profiles FaceAnalyzer(profile=...) takes, fastest last");
  m.def("backends", &backend_names,
        "The inference backends this build registered, by name (pass one as FaceAnalyzer(backend=...)); "
        "onednn-bf16 only on CPUs with AVX512-BF16");

  py::class_<ModelEntry>(m, "ModelEntry")
      .def_readonly("name", &ModelEntry::name)
      .def_readonly("task", &ModelEntry::task)
      .def_readonly("family", &ModelEntry::family)
      .def_readonly("licence", &ModelEntry::licence)
      .def_readonly("origin", &ModelEntry::origin)
      .def_property_readonly("input_size",
                             [](const ModelEntry& e) { return py::make_tuple(e.input.width, e.input.height); })
      .def_readonly("thresholds", &ModelEntry::thresholds)
      .def_readonly("format", &ModelEntry::format)
      .def_property_readonly("components",
                             [](const ModelEntry& e) {
                               std::vector<std::string> names;
                               for (const auto& c : e.fuse) names.push_back(c.model);
                               return names;
                             })
      .def_property_readonly("imported", &is_imported)
      .def("__repr__", [](const ModelEntry& e) { return "<facerec.ModelEntry " + e.name + " (" + e.task + ")>"; });

  py::class_<Manifest, std::shared_ptr<Manifest>>(m, "Manifest",
                                                  "The model manifest: every network facerec can run. Load once, "
                                                  "pass to every FaceAnalyzer.")
      .def_static(
          "load", [](const std::filesystem::path& p) { return std::make_shared<Manifest>(Manifest::load(p)); },
          py::arg("path"))
      .def_static(
          "default", [] { return std::make_shared<Manifest>(Manifest::load_default()); },
          "The manifest installed with the library (FACEREC_MANIFEST overrides)")
      .def_property_readonly("path", &Manifest::path)
      .def_property_readonly("models", &Manifest::models)
      .def("model", &Manifest::model, py::arg("name"), py::return_value_policy::copy);

  m.def("models_dir", &models_dir, "The model cache directory (FACEREC_MODELS overrides)");
  m.def(
      "decode_image", [](const std::string& path) { return from_bgr(decode_image_file(path).bgr); }, py::arg("path"),
      "Decodes an image file (EXIF orientation applied, limits checked) to an H x W x 3 BGR uint8 array");
  m.def(
      "decode_image_bytes", [](const py::bytes& b) { return from_bgr(decode_image_bytes(std::string(b)).bgr); },
      py::arg("data"));

  py::class_<PyFace>(m, "Face",
                     "One face: box (x, y, w, h), score, keypoints, landmarks, five points, embedding, quality (a "
                     "dict: score in [0, 1], its components size, sharpness, exposure, pose, and the measurements)")
      .def_readonly("box", &PyFace::box)
      .def_readonly("score", &PyFace::score)
      .def_readonly("keypoints", &PyFace::keypoints)
      .def_readonly("landmarks", &PyFace::landmarks)
      .def_readonly("five", &PyFace::five)
      .def_readonly("embedding", &PyFace::embedding)
      .def_readonly("quality", &PyFace::quality)
      .def("__repr__", [](const PyFace& f) {
        auto b = f.box.unchecked<1>();
        char s[128];
        std::snprintf(s, sizeof s, "<facerec.Face box=(%.0f, %.0f, %.0f, %.0f) score=%.3f>", double(b(0)), double(b(1)),
                      double(b(2)), double(b(3)), double(f.score));
        return std::string(s);
      });

  py::class_<Match>(m, "Match")
      .def_readonly("similarity", &Match::similarity)
      .def_readonly("same", &Match::same)
      .def_readonly("threshold", &Match::threshold)
      .def_readonly("operating_point", &Match::operating_point)
      .def("__bool__", [](const Match& x) { return x.same; })
      .def("__repr__", [](const Match& x) {
        return "<facerec.Match similarity=" + std::to_string(x.similarity) + (x.same ? " same>" : " different>");
      });

  py::class_<PyAnalyzer>(m, "FaceAnalyzer",
                         "The whole pipeline: detect -> landmarks -> align -> embed. Calls on one instance take "
                         "turns (the GIL is released while it runs); use one per thread for parallelism.")
      .def(py::init([](std::shared_ptr<Manifest> manifest, const std::string& profile,
                       const std::optional<std::string>& detector, const std::optional<std::string>& landmarker,
                       const std::optional<std::string>& embedder, std::optional<bool> flip, std::optional<bool> zoom,
                       const std::optional<std::string>& backend, std::optional<int> threads,
                       std::optional<int> min_face) {
             auto o = analyzer_options(profile, detector, landmarker, embedder, flip, zoom, backend, threads, min_face);
             py::gil_scoped_release unlocked;
             auto p = std::make_unique<PyAnalyzer>();
             p->fa = manifest ? std::make_unique<FaceAnalyzer>(*manifest, o)
                              : std::make_unique<FaceAnalyzer>(Manifest::load_default(), o);
             return p;
           }),
           "profile: '' (the library defaults), 'accurate', 'balanced' or 'edge' (facerec.profiles()); every other "
           "argument left None keeps the profile's (or default) choice",
           py::arg("manifest") = nullptr, py::arg("profile") = "", py::arg("detector") = py::none(),
           py::arg("landmarker") = py::none(), py::arg("embedder") = py::none(), py::arg("flip") = py::none(),
           py::arg("zoom") = py::none(), py::arg("backend") = py::none(), py::arg("threads") = py::none(),
           py::arg("min_face") = py::none())
      .def(
          "analyze",
          [](PyAnalyzer& p, const Array& image, bool embed) {
            cv::Mat bgr = to_bgr(image);
            std::vector<Face> faces;
            {
              py::gil_scoped_release unlocked;
              std::lock_guard lock(p.mu);
              faces = p.fa->analyze(bgr, embed);
            }
            std::vector<PyFace> out;
            for (auto& f : faces) out.push_back(to_py(std::move(f)));
            return out;
          },
          py::arg("image"), py::arg("embed") = true, "Every face in a BGR image, by detector score")
      .def(
          "compare",
          [](const PyAnalyzer& p, const py::array_t<float, py::array::c_style | py::array::forcecast>& a,
             const py::array_t<float, py::array::c_style | py::array::forcecast>& b,
             const std::string& op) { return p.fa->compare(to_vec(a), to_vec(b), op); },  // reads thresholds only
          py::arg("a"), py::arg("b"), py::arg("operating_point") = "fmr_1e-3",
          "Cosine similarity and the decision at a calibrated operating point")
      .def(
          "threshold", [](const PyAnalyzer& p, const std::string& op) { return p.fa->threshold(op); },
          py::arg("operating_point") = "fmr_1e-3")
      .def_property_readonly("embedder_model", [](const PyAnalyzer& p) { return p.fa->embedder_model(); })
      .def_property_readonly("template_model", [](const PyAnalyzer& p) { return p.fa->template_model(); });

  py::class_<Candidate>(m, "Candidate")
      .def_readonly("id", &Candidate::identity_id)
      .def_readonly("name", &Candidate::name)
      .def_readonly("similarity", &Candidate::similarity)
      .def("__repr__", [](const Candidate& c) {
        return "<facerec.Candidate " + c.name + " " + std::to_string(c.similarity) + ">";
      });
  py::class_<Identification>(m, "Identification")
      .def_readonly("candidates", &Identification::candidates)
      .def_readonly("identity", &Identification::identity, "The best candidate when known, else None")
      .def_readonly("threshold", &Identification::threshold);
  py::class_<Identity>(m, "Identity")
      .def_readonly("id", &Identity::id)
      .def_readonly("name", &Identity::name)
      .def_readonly("metadata", &Identity::metadata)
      .def_readonly("templates", &Identity::templates);

  py::class_<Gallery>(m, "Gallery",
                      "Enrolled identities and their templates in a store (SQLite file or postgresql:// URL), "
                      "searched by an index. Thread safe.")
      .def(py::init([](const std::string& url, bool create, const std::string& index) {
             GalleryOptions o;
             o.create = create;
             o.index = index;
             py::gil_scoped_release unlocked;
             return std::make_unique<Gallery>(url, o);
           }),
           py::arg("url"), py::arg("create") = true, py::arg("index") = GalleryOptions{}.index)
      .def(
          "enroll",
          [](Gallery& g, PyAnalyzer& p, const std::string& name, const Array& image, const std::string& metadata,
             bool force) {
            cv::Mat bgr = to_bgr(image);
            py::gil_scoped_release unlocked;
            std::unique_lock lock(p.mu);
            Face face;
            auto t = template_from_image(*p.fa, bgr, "", true, nullptr, &face);
            const double floor = p.fa->quality_model().floor;
            lock.unlock();
            if (!t) throw Error(ErrorKind::BadInput, "no face found in the image enrolled as '" + name + "'");
            if (auto why = enrol_refusal(face, floor); !why.empty() && !force)
              throw Error(ErrorKind::BadInput, "'" + name + "': " + why + " (force=True)");
            return g.enroll(name, metadata, {*t});
          },
          py::arg("analyzer"), py::arg("name"), py::arg("image"), py::arg("metadata") = "", py::arg("force") = false,
          "Enrols the largest face of the image under `name` (added to an existing person); returns the id. A face "
          "below the analyzer's quality floor raises facerec.Error (bad input) unless force=True")
      .def(
          "identify",
          [](Gallery& g, const PyAnalyzer& p, const PyFace& face, int k, const std::string& op) {
            py::gil_scoped_release unlocked;
            return g.identify(face.face.embedding, p.fa->template_model(), k, p.fa->threshold(op));
          },
          py::arg("analyzer"), py::arg("face"), py::arg("k") = 5, py::arg("operating_point") = "fmr_1e-3",
          "The best k candidates for a face and the known/unknown decision at the operating point")
      .def("list", &Gallery::list, py::call_guard<py::gil_scoped_release>())
      .def("remove", &Gallery::remove, py::arg("id"), py::call_guard<py::gil_scoped_release>())
      .def("__len__", [](Gallery& g) { return g.list().size(); });
}
