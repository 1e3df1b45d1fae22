// Uses the installed SDK as a user would: the manifest found relative to the installed library,
// the whole pipeline on a photo (when the models are imported), and a gallery (C++17 suffices).
//   consumer [PHOTO]   prints "manifest <path>", "models <n>", then "faces <n>" and "identify <name>"
#include <facerec/analyzer.hpp>
#include <facerec/error.hpp>
#include <facerec/gallery/enrol.hpp>
#include <facerec/gallery/gallery.hpp>
#include <facerec/image.hpp>
#include <facerec/models.hpp>

#include <cstdio>
#include <filesystem>
#include <string>

#include <unistd.h>

int main(int argc, char** argv) {
  try {
    const facerec::Manifest manifest = facerec::Manifest::load_default();
    std::printf("manifest %s\n", manifest.path().c_str());
    std::printf("models %zu\n", manifest.models().size());
    if (argc < 2) return 0;
    facerec::FaceAnalyzer fa(manifest);
    auto img = facerec::decode_image_file(argv[1]);
    auto faces = fa.analyze(img.bgr);
    std::printf("faces %zu\n", faces.size());
    if (faces.empty()) return 1;
    auto db = std::filesystem::temp_directory_path() / ("facerec-consumer-" + std::to_string(::getpid()) + ".db");
    std::filesystem::remove(db);
    facerec::GalleryOptions go;
    go.create = true;
    facerec::Gallery g(db.string(), go);
    auto t = facerec::template_from_image(fa, img.bgr, "0", false);
    if (!t) return 1;
    g.enroll("someone", "", {*t});
    auto hits = g.search(faces[0].embedding, fa.template_model(), 1);
    std::printf("identify %s %.3f\n", hits.empty() ? "-" : hits[0].name.c_str(), hits.empty() ? 0.0 : hits[0].similarity);
    std::filesystem::remove(db);
    return 0;
  } catch (const facerec::Error& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 2;
  }
}
