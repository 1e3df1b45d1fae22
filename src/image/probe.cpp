// Image headers read without decoding: the format, the pixel size, and whether a JPEG is whole.
// Every format the decoder is allowed to see has a probe here; decode() refuses the rest, so the
// pixel limit holds before any decoder allocates.
#include <facerec/image.hpp>

#include <cstring>

namespace facerec {
namespace {

using Bytes = const unsigned char*;

uint32_t be16(Bytes p) { return (uint32_t(p[0]) << 8) | p[1]; }
uint32_t be32(Bytes p) { return (be16(p) << 16) | be16(p + 2); }
uint32_t le16(Bytes p) { return uint32_t(p[0]) | (uint32_t(p[1]) << 8); }
uint32_t le32(Bytes p) { return le16(p) | (le16(p + 2) << 16); }
uint32_t le24(Bytes p) { return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16); }

// JPEG: walks the marker segments (fill bytes 0xFF allowed before every marker, as the standard
// says) to the first frame header; then on to the first scan, and looks for the end-of-image
// marker after it (a file cut short has none).
bool probe_jpeg(Bytes p, size_t n, ImageHeader& h) {
  size_t i = 2;
  bool sof = false;
  while (i < n) {
    if (p[i] != 0xFF) return false;  // not at a marker: corrupt
    while (i < n && p[i] == 0xFF) ++i;
    if (i >= n) return false;
    unsigned char marker = p[i++];
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // no length
    if (marker == 0xD9 || marker == 0x00) return false;                                    // EOI before a scan
    if (i + 2 > n) return false;
    uint32_t len = be16(p + i);
    if (len < 2 || i + len > n) return false;
    bool is_sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (is_sof && !sof) {
      if (len < 7) return false;
      h.height = int(be16(p + i + 3));
      h.width = int(be16(p + i + 5));
      sof = true;
    }
    if (marker == 0xDA) {  // start of scan: the entropy-coded data follows
      if (!sof) return false;
      // 0xFF inside entropy-coded data is stuffed (0xFF00) or a restart marker, so 0xFFD9 is the end
      for (size_t k = i + len; k + 1 < n; ++k)
        if (p[k] == 0xFF && p[k + 1] == 0xD9) {
          h.complete = true;
          break;
        }
      return true;
    }
    i += len;
  }
  return false;
}

// PNM (P1..P6): magic, then width and height as decimal numbers between whitespace and comments.
bool probe_pnm(Bytes p, size_t n, ImageHeader& h) {
  size_t i = 2;
  int64_t v[2] = {0, 0};
  for (auto& x : v) {
    for (;;) {  // whitespace and comments
      while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n' || p[i] == '\v' || p[i] == '\f'))
        ++i;
      if (i < n && p[i] == '#') {
        while (i < n && p[i] != '\n' && p[i] != '\r') ++i;
        continue;
      }
      break;
    }
    if (i >= n || p[i] < '0' || p[i] > '9') return false;
    while (i < n && p[i] >= '0' && p[i] <= '9') {
      x = x * 10 + (p[i++] - '0');
      if (x > (int64_t(1) << 30)) return false;
    }
  }
  h.width = int(v[0]);
  h.height = int(v[1]);
  return true;
}

// TIFF: the first image file directory (the page OpenCV decodes): width, height, and the tags that
// size the decoder's buffers (tiles, samples per pixel, bits per sample), which must be sane.
bool probe_tiff(Bytes p, size_t n, ImageHeader& h) {
  bool le = p[0] == 'I';
  auto u16 = [&](size_t o) { return le ? le16(p + o) : be16(p + o); };
  auto u32 = [&](size_t o) { return le ? le32(p + o) : be32(p + o); };
  if (u16(2) != 42) return false;  // BigTIFF (43) and others: not probed, refused
  size_t ifd = u32(4);
  if (ifd < 8 || ifd + 2 > n) return false;
  size_t count = u16(ifd);
  if (ifd + 2 + count * 12 > n) return false;
  int64_t w = -1, ht = -1;
  for (size_t e = 0; e < count; ++e) {
    size_t o = ifd + 2 + e * 12;
    uint32_t tag = u16(o), type = u16(o + 2), cnt = u32(o + 4);
    int64_t value = type == 3 ? int64_t(u16(o + 8)) : type == 4 ? int64_t(u32(o + 8)) : -1;
    switch (tag) {
      case 256:
        w = value;
        break;
      case 257:
        ht = value;
        break;
      case 258:  // bits per sample: at most 16 (one value inline, else an offset)
        if (cnt == 1 && value > 16) return false;
        break;
      case 277:  // samples per pixel
        if (value < 1 || value > 4) return false;
        break;
      case 322:  // tile width, tile length: a tile is never larger than 4096 on a side
      case 323:
        if (value < 1 || value > 4096) return false;
        break;
      default:
        break;
    }
  }
  if (w < 0 || ht < 0) return false;
  h.width = int(std::min<int64_t>(w, 1 << 30));
  h.height = int(std::min<int64_t>(ht, 1 << 30));
  return true;
}

// WebP: the RIFF container's first chunk: lossy (VP8), lossless (VP8L) or extended (VP8X, canvas).
bool probe_webp(Bytes p, size_t n, ImageHeader& h) {
  if (n < 30) return false;
  if (std::memcmp(p + 12, "VP8 ", 4) == 0) {
    if (p[23] != 0x9D || p[24] != 0x01 || p[25] != 0x2A) return false;
    h.width = int(le16(p + 26) & 0x3FFF);
    h.height = int(le16(p + 28) & 0x3FFF);
    return true;
  }
  if (std::memcmp(p + 12, "VP8L", 4) == 0) {
    if (p[20] != 0x2F) return false;
    uint32_t b = le32(p + 21);
    h.width = int((b & 0x3FFF) + 1);
    h.height = int(((b >> 14) & 0x3FFF) + 1);
    return true;
  }
  if (std::memcmp(p + 12, "VP8X", 4) == 0) {
    h.width = int(le24(p + 24) + 1);
    h.height = int(le24(p + 27) + 1);
    return true;
  }
  return false;
}

}  // namespace

std::optional<ImageHeader> probe_image(const std::string& bytes) {
  const auto* p = reinterpret_cast<Bytes>(bytes.data());
  size_t n = bytes.size();
  ImageHeader h;
  bool ok = false;
  if (n > 24 && std::memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0 && std::memcmp(p + 12, "IHDR", 4) == 0) {
    h.format = "png";
    h.width = int(std::min<uint32_t>(be32(p + 16), 1u << 30));
    h.height = int(std::min<uint32_t>(be32(p + 20), 1u << 30));
    ok = true;
  } else if (n > 4 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) {
    h.format = "jpeg";
    h.complete = false;
    ok = probe_jpeg(p, n, h);
  } else if (n > 26 && p[0] == 'B' && p[1] == 'M') {
    h.format = "bmp";
    uint32_t header = le32(p + 14);
    if (header == 12) {  // OS/2 BITMAPCOREHEADER: 16-bit sizes
      h.width = int(le16(p + 18));
      h.height = int(le16(p + 20));
      ok = true;
    } else if (header >= 40) {
      int32_t w = int32_t(le32(p + 18)), ht = int32_t(le32(p + 22));
      if (w != INT32_MIN && ht != INT32_MIN) {
        h.width = w;
        h.height = ht < 0 ? -ht : ht;
        ok = true;
      }
    }
  } else if (n > 3 && p[0] == 'P' && p[1] >= '1' && p[1] <= '6') {
    h.format = "pnm";
    ok = probe_pnm(p, n, h);
  } else if (n > 8 && (std::memcmp(p, "II", 2) == 0 || std::memcmp(p, "MM", 2) == 0)) {
    h.format = "tiff";
    ok = probe_tiff(p, n, h);
  } else if (n > 16 && std::memcmp(p, "RIFF", 4) == 0 && std::memcmp(p + 8, "WEBP", 4) == 0) {
    h.format = "webp";
    ok = probe_webp(p, n, h);
  }
  // A DICOM preamble marker ("DICM" at byte 128) makes OpenCV hand the bytes to its DICOM reader
  // (GDCM, which asserts on malformed input) whatever format the file starts as: refuse it.
  if (ok && n >= 132 && std::memcmp(p + 128, "DICM", 4) == 0) ok = false;
  if (!ok) return std::nullopt;
  return h;
}

bool probe_image_size(const std::string& bytes, int& width, int& height) {
  auto h = probe_image(bytes);
  if (!h) return false;
  width = h->width;
  height = h->height;
  return true;
}

}  // namespace facerec
