#pragma once
// Re-posing a face (offline 3D pose augmentation): the face's 468 FaceMesh points are lifted to 3D
// with the depth of a fitted 3D face model, the mesh is turned in yaw (and pitch) about the
// model's origin, and the face's texture is re-rendered onto the turned mesh.
//
// How it renders (deterministic: no random draws, the same input gives the same bytes):
//  - Lifting: the model is fitted to the points (estimate_head_pose); each point keeps its image
//    position and takes the depth of its vertex in the fitted model, so the mesh passes exactly
//    through the detected points.
//  - Texture: each triangle of the model's topology is warped (affinely) from where it is in the
//    photo to where the turned mesh projects it. A triangle the photo shows from behind (it faces
//    away from the camera: the far side of a turned face) takes its texture from its mirror
//    triangle on the other half of the face instead (the model's left-right vertex pairs), which
//    is the "filled from the mirrored half" of the augmentation literature; triangles that face
//    away after turning are not drawn. Triangles are drawn far to near.
//  - Blending: the rendered face is laid over the original photo through its coverage mask,
//    feathered at the edge (erosion, then a Gaussian blur), so hair, ears and background stay.
// What it cannot do: show what neither half of the photo shows (the ear of a face turned further
// away), or move the hair and background with the head; the further the turn, the more the
// seam shows. Turns of up to about 30° look plausible on near-frontal photos.
//
// Thread safety: the functions are pure.
#include <facerec/head_pose.hpp>

#include <opencv2/core.hpp>

#include <vector>

namespace facerec {

// For each vertex of `model`, its mirror image: the vertex nearest to it reflected in the model's
// plane of symmetry (x -> -x about the vertices' mean x). Requires a non-empty model. Pure.
std::vector<int> mirror_vertices(const FaceModel3D& model);

// How repose_face renders. A plain value.
struct ReposeOptions {
  double focal_px = 0;    // the camera's focal length (0: the larger image side, as estimate_head_pose)
  double feather_px = 0;  // blur of the mask's edge (0: 2% of the face's width, at least 1 px)
  double max_fit_px = 0;  // > 0: refuse a face whose model fit is worse than this (RMS pixels)
};

// A re-posed face. A plain value.
struct ReposedFace {
  cv::Mat image;                    // BGR, the input's size and type
  HeadPose source;                  // the fitted pose of the face in the input
  double yaw = 0, pitch = 0;        // the pose the face was turned to (source + the requested change)
  double mirrored_share = 0;        // share of the drawn face area whose texture came from the mirror half
  cv::Rect face_box;                // where the re-rendered face lies in `image`
  std::vector<cv::Point2f> points;  // the turned face's points (one per model vertex), in `image`
};

// A re-poser for one face model (what it represents): the model and what rendering derives from
// it once — its left-right vertex pairs and the winding of triangles that face the camera — so
// that many faces and views are rendered without deriving them again.
// Thread safety: const after construction; turn() may be called from several threads.
class FaceReposer {
 public:
  // Requires: a model with vertices and triangles whose indices name vertices. Throws
  // Error(InvalidArgument) otherwise.
  explicit FaceReposer(FaceModel3D model);
  const FaceModel3D& model() const { return model_; }

  // Turns the face of `bgr` whose FaceMesh points are `points` and whose fitted pose is `source`
  // (estimate_head_pose with the same model and options.focal_px) by `yaw_delta` and `pitch_delta`
  // degrees (signs as HeadPose) and renders it.
  // Requires: a non-empty 8-bit BGR image, points.size() == model().vertices.size() >= 6,
  // |yaw_delta| <= 90 and |pitch_delta| <= 90.
  // Throws Error(InvalidArgument) otherwise, and Error(BadInput) when source.reprojection_error is
  // worse than options.max_fit_px (the points are not a face the model explains).
  ReposedFace turn(const cv::Mat& bgr, const std::vector<cv::Point2f>& points, const HeadPose& source, double yaw_delta,
                   double pitch_delta = 0, const ReposeOptions& options = {}) const;

 private:
  FaceModel3D model_;
  std::vector<int> mirror_;
  double facing_ = 1;  // the sign of the signed area of a triangle facing the camera
};

// One face, one view: FaceReposer(model).turn(bgr, points, the pose fitted here, ...). Throws as
// FaceReposer and turn (and as estimate_head_pose).
ReposedFace repose_face(const cv::Mat& bgr, const std::vector<cv::Point2f>& points, const FaceModel3D& model,
                        double yaw_delta, double pitch_delta = 0, const ReposeOptions& options = {});

}  // namespace facerec
