#pragma once
// Gallery options and enrolment shared by the CLI commands and the REST service.
#include "pipeline_flags.hpp"

#include <facerec/analyzer.hpp>
#include <facerec/gallery/gallery.hpp>

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace facerec::cli {

// ~/.local/share/facerec/gallery.db, or FACEREC_DB.
std::string default_gallery();

// --db, the index flags, and every pipeline flag (PipelineFlags).
struct GalleryFlags {
  std::string db = default_gallery();
  PipelineFlags pipeline;
  std::string index = "Flat", index_file;
  bool create = false;  // may the command create the gallery? (enroll; serve --create)
  void add(CLI::App* app, bool with_index = true);
  AnalyzerOptions options() const { return pipeline.options(); }
  GalleryOptions gallery_options() const;
};

// The template of the largest face in an encoded image; nullopt when it holds no face. Throws
// Error(InvalidArgument) for an undecodable image. *note explains skipped or ambiguous images.
std::optional<Template> template_from_image(FaceAnalyzer& fa, const std::string& bytes, bool keep_crop,
                                            std::string* note = nullptr, Face* face = nullptr);

}  // namespace facerec::cli
