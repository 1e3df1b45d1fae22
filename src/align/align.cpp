#include <facerec/align.hpp>
#include <facerec/error.hpp>

#include <opencv2/imgproc.hpp>

#include <cmath>

namespace facerec {

const FivePoints& arcface_template_112() {
  static const FivePoints t = {cv::Point2f(38.2946f, 51.6963f), cv::Point2f(73.5318f, 51.5014f),
                               cv::Point2f(56.0252f, 71.7366f), cv::Point2f(41.5493f, 92.3655f),
                               cv::Point2f(70.7299f, 92.2041f)};
  return t;
}

cv::Mat similarity_transform(const std::vector<cv::Point2f>& from, const std::vector<cv::Point2f>& to) {
  if (from.size() != to.size() || from.size() < 2)
    throw Error(ErrorKind::InvalidArgument, "similarity_transform needs at least two point pairs");
  double n = double(from.size());
  double mfx = 0, mfy = 0, mtx = 0, mty = 0;
  for (size_t i = 0; i < from.size(); ++i) {
    mfx += from[i].x;
    mfy += from[i].y;
    mtx += to[i].x;
    mty += to[i].y;
  }
  mfx /= n;
  mfy /= n;
  mtx /= n;
  mty /= n;
  // Least squares over x' = a x - b y + tx, y' = b x + a y + ty (rotation + uniform scale),
  // the closed form of Umeyama's solution in two dimensions (no reflection).
  double sxx = 0, sa = 0, sb = 0;
  for (size_t i = 0; i < from.size(); ++i) {
    double fx = from[i].x - mfx, fy = from[i].y - mfy, tx = to[i].x - mtx, ty = to[i].y - mty;
    sxx += fx * fx + fy * fy;
    sa += fx * tx + fy * ty;
    sb += fx * ty - fy * tx;
  }
  if (sxx < 1e-12) throw Error(ErrorKind::InvalidArgument, "similarity_transform: source points coincide");
  double a = sa / sxx, b = sb / sxx;
  cv::Mat m = (cv::Mat_<double>(2, 3) << a, -b, mtx - (a * mfx - b * mfy), b, a, mty - (b * mfx + a * mfy));
  return m;
}

namespace {

// dlib's mean face shape for points 17..67 (dlib/image_transforms/interpolation.h, as data);
// As dlib does, the eyebrows (17-26) and the lower lip (55-59, 65-67) are left out of the fit.
const double mx[] = {0.000213256, 0.0752622, 0.18113,  0.29077,  0.393397, 0.586856, 0.689483, 0.799124, 0.904991,
                     0.98004,     0.490127,  0.490127, 0.490127, 0.490127, 0.36688,  0.426036, 0.490127, 0.554217,
                     0.613373,    0.121737,  0.187122, 0.265825, 0.334606, 0.260918, 0.182743, 0.645647, 0.714428,
                     0.793132,    0.858516,  0.79751,  0.719335, 0.254149, 0.340985, 0.428858, 0.490127, 0.551395,
                     0.639268,    0.726104,  0.642159, 0.556721, 0.490127, 0.423532, 0.338094, 0.290379, 0.428096,
                     0.490127,    0.552157,  0.689874, 0.553364, 0.490127, 0.42689};
const double my[] = {0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482, 0.038915,
                     0.106454, 0.203352, 0.307009,  0.409805,  0.515625,  0.587326,  0.609345,  0.628106,  0.609345,
                     0.587326, 0.216423, 0.178758,  0.179852,  0.231733,  0.245099,  0.244077,  0.231733,  0.179852,
                     0.178758, 0.216423, 0.244077,  0.245099,  0.780233,  0.745405,  0.727388,  0.742578,  0.727388,
                     0.745405, 0.780233, 0.864805,  0.902192,  0.909281,  0.902192,  0.864805,  0.784792,  0.778746,
                     0.785343, 0.778746, 0.784792,  0.824182,  0.831803,  0.824182};

cv::Point2f dlib_mean_point(int i, int size, double padding) {
  return {float((padding + mx[i - 17]) / (2 * padding + 1) * size),
          float((padding + my[i - 17]) / (2 * padding + 1) * size)};
}

// Warps so that dst(p) = src(M p), M mapping crop coordinates to image coordinates; downsizes
// the source first when the crop would sample it more than 2x sparsely (avoids aliasing).
cv::Mat warp_from_crop_transform(const cv::Mat& bgr, cv::Mat crop_to_image, cv::Size size) {
  double scale = std::sqrt(crop_to_image.at<double>(0, 0) * crop_to_image.at<double>(0, 0) +
                           crop_to_image.at<double>(1, 0) * crop_to_image.at<double>(1, 0));
  cv::Mat src = bgr;
  while (scale > 2.0 && src.cols > 4 && src.rows > 4) {
    cv::Mat half;
    cv::pyrDown(src, half);
    double fx = double(half.cols) / src.cols, fy = double(half.rows) / src.rows;
    crop_to_image.row(0) *= fx;
    crop_to_image.row(1) *= fy;
    scale *= 0.5 * (fx + fy);
    src = half;
  }
  cv::Mat out;
  cv::warpAffine(src, out, crop_to_image, size, cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_CONSTANT,
                 cv::Scalar(0, 0, 0));
  return out;
}

}  // namespace

cv::Mat warp_to_template(const cv::Mat& bgr, const FivePoints& five, int size) {
  std::vector<cv::Point2f> tmpl, pts(five.begin(), five.end());
  for (const auto& p : arcface_template_112()) tmpl.push_back(p * (float(size) / 112.f));
  return warp_from_crop_transform(bgr, similarity_transform(tmpl, pts), cv::Size(size, size));
}

cv::Mat dlib_face_chip(const cv::Mat& bgr, const std::vector<cv::Point2f>& l68, int size, double padding) {
  if (l68.size() != 68) throw Error(ErrorKind::InvalidArgument, "dlib_face_chip needs 68 landmarks");
  std::vector<cv::Point2f> from, to;
  for (int i = 17; i < 68; ++i) {
    if ((55 <= i && i <= 59) || (65 <= i && i <= 67) || i <= 26) continue;
    from.push_back(dlib_mean_point(i, size, padding));
    to.push_back(l68[size_t(i)]);
  }
  return warp_from_crop_transform(bgr, similarity_transform(from, to), cv::Size(size, size));
}

}  // namespace facerec

namespace facerec {

cv::Mat dlib_face_chip(const cv::Mat& bgr, const FivePoints& five, int size, double padding) {
  // the same five points of dlib's mean face: eye centres (36-41, 42-47), nose tip, mouth corners
  auto eye = [&](int a) {
    cv::Point2f s(0, 0);
    for (int i = a; i < a + 6; ++i) s += dlib_mean_point(i, size, padding);
    return s * (1.f / 6);
  };
  std::vector<cv::Point2f> from = {eye(36), eye(42), dlib_mean_point(30, size, padding),
                                   dlib_mean_point(48, size, padding), dlib_mean_point(54, size, padding)};
  return warp_from_crop_transform(bgr, similarity_transform(from, {five.begin(), five.end()}), cv::Size(size, size));
}

}  // namespace facerec
