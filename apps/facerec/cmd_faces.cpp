// facerec detect | embed | compare | pose
#include "commands.hpp"
#include "each_image.hpp"
#include "pipeline_flags.hpp"
#include "quality_json.hpp"

#include <facerec/analyzer.hpp>
#include <facerec/error.hpp>
#include <facerec/head_pose.hpp>
#include <facerec/image.hpp>
#include <facerec/landmarks.hpp>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>

namespace facerec::cli {
namespace {

nlohmann::json face_json(const std::string& image, size_t index, const Face& f, bool with_embedding) {
  nlohmann::json j;
  j["image"] = image;
  j["face"] = index;
  j["score"] = f.detection.score;
  const auto& b = f.detection.box;
  j["box"] = {b.x, b.y, b.width, b.height};
  nlohmann::json kp = nlohmann::json::array();
  for (const auto& p : f.detection.keypoints) kp.push_back({p.x, p.y});
  j["keypoints"] = kp;
  nlohmann::json five = nlohmann::json::array();
  for (const auto& p : f.five) five.push_back({p.x, p.y});
  j["five_points"] = five;
  if (!f.landmarks.empty()) {
    nlohmann::json l = nlohmann::json::array();
    for (const auto& p : f.landmarks) l.push_back({p.x, p.y});
    j["landmarks"] = l;
  }
  j["quality"] = quality_json(f.quality);
  if (with_embedding) j["embedding"] = f.embedding;
  return j;
}

void draw(cv::Mat& img, const std::vector<Face>& faces) {
  int t = std::max(1, img.cols / 600);
  for (const auto& f : faces) {
    cv::rectangle(img, f.detection.box, cv::Scalar(0, 255, 0), t);
    for (const auto& p : f.landmarks) cv::circle(img, p, t, cv::Scalar(255, 200, 0), -1);
    for (const auto& p : f.five) cv::circle(img, p, 2 * t, cv::Scalar(0, 0, 255), -1);
    char s[16];
    std::snprintf(s, sizeof s, "%.2f", f.detection.score);
    cv::putText(img, s, f.detection.box.tl() + cv::Point2f(0, -4.f * float(t)), cv::FONT_HERSHEY_SIMPLEX, 0.4 * t,
                cv::Scalar(0, 255, 0), t);
  }
}

int detect(const std::vector<std::string>& images, const PipelineFlags& pf, bool json, const std::string& draw_out) {
  FaceAnalyzer fa(manifest(), pf.options());
  if (!draw_out.empty() && images.size() > 1) std::filesystem::create_directories(draw_out);
  return for_each_image(
      images, fa, false, [&](const std::string& path, const DecodedImage& img, const std::vector<Face>& faces) {
        if (json) {
          nlohmann::json arr = nlohmann::json::array();
          for (size_t i = 0; i < faces.size(); ++i) arr.push_back(face_json(path, i, faces[i], false));
          std::cout << nlohmann::json{{"image", path}, {"faces", arr}}.dump() << "\n";
        } else {
          std::cout << path << "\t" << faces.size() << " face(s)\n";
          for (size_t i = 0; i < faces.size(); ++i) {
            const auto& b = faces[i].detection.box;
            std::printf("  %zu\tscore %.3f\tbox %.0f,%.0f %.0fx%.0f\n", i, double(faces[i].detection.score),
                        double(b.x), double(b.y), double(b.width), double(b.height));
          }
          std::fflush(stdout);
        }
        if (!draw_out.empty()) {
          cv::Mat canvas = img.bgr.clone();
          std::vector<Face> scaled = faces;
          for (auto& f : scaled) {  // back to the decoded image's pixels
            float k = float(img.scale);
            f.detection.box = cv::Rect2f(f.detection.box.x * k, f.detection.box.y * k, f.detection.box.width * k,
                                         f.detection.box.height * k);
            for (auto& p : f.landmarks) p *= k;
            for (auto& p : f.five) p *= k;
          }
          draw(canvas, scaled);
          std::string out = images.size() > 1
                                ? (std::filesystem::path(draw_out) / std::filesystem::path(path).filename()).string()
                                : draw_out;
          if (!cv::imwrite(out, canvas)) throw Error(ErrorKind::Io, "cannot write " + out);
        }
      });
}

// Head pose of every face from its 468 FaceMesh points against the 3D face model `mesh`.
int pose(const std::vector<std::string>& images, const PipelineFlags& pf, const std::string& mesh, bool json) {
  const std::string obj = face_mesh_path(mesh);
  if (obj.empty())
    throw Error(ErrorKind::InvalidArgument,
                "pose: give --mesh (MediaPipe's canonical_face_model.obj, 468 vertices) or set FACEREC_FACE_MESH");
  const auto model = load_face_model_obj(obj);
  FaceAnalyzer fa(manifest(), pf.options());
  return for_each_image(
      images, fa, false, [&](const std::string& path, const DecodedImage& img, const std::vector<Face>& faces) {
        const cv::Size size(int(std::lround(img.bgr.cols / img.scale)), int(std::lround(img.bgr.rows / img.scale)));
        for (size_t i = 0; i < faces.size(); ++i) {
          if (faces[i].landmarks.size() != model.vertices.size())
            throw Error(ErrorKind::InvalidArgument,
                        "pose: the landmarker gave " + std::to_string(faces[i].landmarks.size()) +
                            " points, the model has " + std::to_string(model.vertices.size()) +
                            " vertices (use --landmarker facemesh)");
          const auto h = estimate_head_pose(faces[i].landmarks, model, size);
          if (json) {
            auto j = face_json(path, i, faces[i], false);
            j.erase("landmarks");
            j["yaw"] = h.yaw;
            j["pitch"] = h.pitch;
            j["roll"] = h.roll;
            j["reprojection_error_px"] = h.reprojection_error;
            std::cout << j.dump() << "\n";
          } else {
            std::printf("%s\t%zu\tyaw %+.1f\tpitch %+.1f\troll %+.1f\t(fit %.1f px)\n", path.c_str(), i, h.yaw, h.pitch,
                        h.roll, h.reprojection_error);
          }
        }
        std::fflush(stdout);
      });
}

int embed(const std::vector<std::string>& images, const PipelineFlags& pf, bool json) {
  FaceAnalyzer fa(manifest(), pf.options());
  return for_each_image(
      images, fa, true, [&](const std::string& path, const DecodedImage&, const std::vector<Face>& faces) {
        for (size_t i = 0; i < faces.size(); ++i) {
          if (json) {
            auto j = face_json(path, i, faces[i], true);
            j["model"] = fa.embedder_model();
            std::cout << j.dump() << "\n";
          } else {
            const auto& b = faces[i].detection.box;
            std::printf("%s\t%zu\t%.3f\t%.0f,%.0f,%.0f,%.0f\t", path.c_str(), i, double(faces[i].detection.score),
                        double(b.x), double(b.y), double(b.width), double(b.height));
            for (size_t k = 0; k < faces[i].embedding.size(); ++k)
              std::printf("%s%.6f", k ? "," : "", double(faces[i].embedding[k]));
            std::printf("\n");
          }
        }
        if (faces.empty()) std::cerr << "facerec: no face in " << path << "\n";
      });
}

// The largest face of an image; throws BadInput when there is none.
Face face_of(FaceAnalyzer& fa, const std::string& path) {
  auto faces = fa.analyze(decode_image_file(path).bgr, true);
  if (faces.empty()) throw Error(ErrorKind::BadInput, "no face found in " + path);
  if (faces.size() > 1) std::cerr << "facerec: " << path << " has " << faces.size() << " faces; using the largest\n";
  return *largest_face(faces);
}

int compare(const std::string& a, const std::string& b, const PipelineFlags& pf, const std::string& fmr, bool json) {
  FaceAnalyzer fa(manifest(), pf.options());
  Face fa_ = face_of(fa, a), fb = face_of(fa, b);
  std::string op = operating_point_for_fmr(fmr);
  Match m = fa.compare(fa_.embedding, fb.embedding, op);
  if (json) {
    std::cout << nlohmann::json{{"a", a},
                                {"b", b},
                                {"similarity", m.similarity},
                                {"same", m.same},
                                {"threshold", m.threshold},
                                {"operating_point", m.operating_point},
                                {"model", fa.embedder_model()}}
                     .dump()
              << "\n";
  } else {
    std::printf("similarity %.4f  threshold %.4f (%s)  %s\n", double(m.similarity), m.threshold, op.c_str(),
                m.same ? "SAME person" : "DIFFERENT people");
  }
  return m.same ? kOk : kNoMatch;
}

}  // namespace

void add_face_commands(CLI::App& app, Action* action) {
  {
    auto* cmd = app.add_subcommand("detect", "Detect faces (box, score, landmarks) in images");
    auto images = std::make_shared<std::vector<std::string>>();
    auto pf = std::make_shared<PipelineFlags>();
    auto json = std::make_shared<bool>(false);
    auto out = std::make_shared<std::string>();
    cmd->add_option("images", *images, "Image files")->required();
    cmd->add_flag("--json", *json, "One JSON object per image");
    cmd->add_option("--draw", *out, "Write a copy with boxes and landmarks drawn (a directory for several images)");
    pf->add(cmd, false);
    cmd->callback([=] { *action = [=] { return detect(*images, *pf, *json, *out); }; });
  }
  {
    auto* cmd = app.add_subcommand("embed", "Embeddings of every face in images");
    auto images = std::make_shared<std::vector<std::string>>();
    auto pf = std::make_shared<PipelineFlags>();
    auto json = std::make_shared<bool>(false);
    cmd->add_option("images", *images, "Image files")->required();
    cmd->add_flag("--json", *json, "One JSON object per face (image, box, score, landmarks, embedding)");
    pf->add(cmd, true);
    cmd->callback([=] { *action = [=] { return embed(*images, *pf, *json); }; });
  }
  {
    auto* cmd = app.add_subcommand(
        "pose", "Head pose (yaw, pitch, roll in degrees) of every face: its FaceMesh points fitted by a 3D face model");
    auto images = std::make_shared<std::vector<std::string>>();
    auto pf = std::make_shared<PipelineFlags>();
    pf->o.landmarker.model = "facemesh";
    auto json = std::make_shared<bool>(false);
    auto mesh = std::make_shared<std::string>();
    cmd->add_option("images", *images, "Image files")->required();
    cmd->add_option("--mesh", *mesh,
                    "3D face model (OBJ, vertices in FaceMesh order: MediaPipe's canonical_face_model.obj; default "
                    "$FACEREC_FACE_MESH)");
    cmd->add_flag("--json", *json, "One JSON object per face (box, score, yaw, pitch, roll, fit)");
    pf->add(cmd, false);
    cmd->callback([=] { *action = [=] { return pose(*images, *pf, *mesh, *json); }; });
  }
  {
    auto* cmd =
        app.add_subcommand("compare", "Compare the largest faces of two images (exit 0: same person, 5: different)");
    auto a = std::make_shared<std::string>(), b = std::make_shared<std::string>();
    auto pf = std::make_shared<PipelineFlags>();
    auto fmr = std::make_shared<std::string>("1e-3");
    auto json = std::make_shared<bool>(false);
    cmd->add_option("a", *a, "First image")->required();
    cmd->add_option("b", *b, "Second image")->required();
    cmd->add_option("--fmr", *fmr, "Operating point: 1e-3, 1e-4 or best")
        ->capture_default_str()
        ->check(CLI::IsMember({"1e-3", "1e-4", "best"}));
    cmd->add_flag("--json", *json, "JSON output");
    pf->add(cmd, true);
    cmd->callback([=] { *action = [=] { return compare(*a, *b, *pf, *fmr, *json); }; });
  }
}

}  // namespace facerec::cli
