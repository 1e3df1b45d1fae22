#pragma once
// Head pose (yaw, pitch, roll) of a face from its 468 FaceMesh landmarks, by fitting a 3D face
// model to them (perspective n-point: the model's vertices are the landmarks in 3D).
//
// Angles in degrees, in the image's frame: yaw > 0 when the nose turns toward the image's right,
// pitch > 0 when the face tilts down, roll > 0 when the face turns clockwise in the image. The
// rotation is R = Ry(-yaw) · Rx(pitch) · Rz(roll) in camera coordinates (x right, y down, z away
// from the camera), taking the model's frontal pose to the face's.
//
// Thread safety: FaceModel3D is a plain value; the functions are pure.
#include <opencv2/core.hpp>

#include <array>
#include <filesystem>
#include <vector>

namespace facerec {

// A 3D face model: vertices in camera coordinates for a frontal face (x right, y down, z away
// from the camera; the nose tip has the smallest z), and triangles (0-based vertex indices).
struct FaceModel3D {
  std::vector<cv::Point3f> vertices;
  std::vector<std::array<int, 3>> triangles;
};

// Reads a Wavefront OBJ face model such as MediaPipe's canonical_face_model.obj (468 vertices in
// FaceMesh order, y up and +z towards the viewer; `v` and `f` records, other records ignored) and
// turns it into camera coordinates. Throws Error(NotFound) when the file cannot be read and
// Error(BadInput) when a record is malformed, a triangle names a missing vertex, or there are no
// vertices.
FaceModel3D load_face_model_obj(const std::filesystem::path& obj);

// The head pose that fits. A plain value.
struct HeadPose {
  double yaw = 0, pitch = 0, roll = 0;  // degrees, as above
  cv::Matx33d rotation = cv::Matx33d::eye();
  cv::Vec3d translation;          // the model's origin in camera coordinates (model units)
  double reprojection_error = 0;  // RMS distance in pixels between the points and the fitted model's projection
};

// R = Ry(-yaw) · Rx(pitch) · Rz(roll) (degrees). Pure.
cv::Matx33d rotation_from_angles(double yaw, double pitch, double roll);

// The pose of a face whose landmarks `points` (image pixels, one per model vertex, in its order)
// were seen by a pinhole camera with focal length `focal_px` (0: the larger image side, a common
// stand-in for an unknown camera) and principal point at the image centre.
// Requires: points.size() == model.vertices.size() >= 6, a non-empty image size.
// Throws Error(InvalidArgument) otherwise.
HeadPose estimate_head_pose(const std::vector<cv::Point2f>& points, const FaceModel3D& model, cv::Size image,
                            double focal_px = 0);

// The model posed and projected: one image point per vertex. Pure.
std::vector<cv::Point2f> project_face_model(const FaceModel3D& model, const cv::Matx33d& rotation,
                                            const cv::Vec3d& translation, cv::Size image, double focal_px = 0);

}  // namespace facerec
