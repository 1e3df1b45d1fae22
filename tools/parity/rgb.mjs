// The RGB bytes of a decoded RGBA image (jpeg-js's decode with useTArray: { width, height, data }):
// one home for the conversion the parity generators and the face-api benchmark share.
export function rgbaToRgb(img) {
  const rgb = new Uint8Array(img.width * img.height * 3);
  for (let i = 0; i < img.width * img.height; i++) {
    rgb[3 * i] = img.data[4 * i];
    rgb[3 * i + 1] = img.data[4 * i + 1];
    rgb[3 * i + 2] = img.data[4 * i + 2];
  }
  return rgb;
}
