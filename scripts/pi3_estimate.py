#!/usr/bin/env python3
"""Issue 13, part 4: an estimate of the time per face of each profile on a Raspberry Pi 3.

No ARM board is here, so this is a model, not a measurement:

  time(profile) = sum over the networks a photo of one face runs of  runs x MACs / R(kind)

* MACs per network run: counted by `facerec models check` on a reference run (its GOP column is
  2 x multiply-adds over every Conv and Gemm, at the input size the pipeline feeds).
* Runs per photo of one face: from the profile's settings (below), checked against bench_profiles
  --stages on this machine.
* R, the sustained multiply-add rate of a Pi 3 (BCM2837, 4x Cortex-A53 at 1.2 GHz, NEON), from
  ncnn's published benchncnn figures for the Raspberry Pi 3 Model B+ (the same Cortex-A53 at
  1.4 GHz, 4 threads; benchmark/README.md of Tencent/ncnn), scaled by the clock ratio 1.2/1.4:
    - depthwise-separable networks (BlazeFace, FaceMesh, FaceBoxes, MobileFaceNet, both landmark
      nets): MobileNet v1 (569 M MACs) in 152.31 ms -> 3.74 GMAC/s at 1.4 GHz, 3.20 at 1.2 GHz;
    - dense 3x3 residual networks (the dlib ResNet): ResNet-18 (1.82 G MACs) in 416.54 ms ->
      4.37 GMAC/s at 1.4 GHz, 3.75 at 1.2 GHz.
  Both figures use the older, slower of ncnn's published Pi 3 runs (the newer gives MobileNet in
  108.66 ms): an upper estimate of the time for a runtime as good as ncnn.
* Not counted: decoding, resizing and warps, NMS, thread start-up; on this machine they are under
  5% of a photo (bench_profiles --stages), and the model assumes the same share there.

Usage: python3 scripts/pi3_estimate.py [--manifest M] [--facerec build/apps/facerec/facerec]
"""
import argparse
import subprocess
import sys

DEPTHWISE_GMACS = 569e6 / 0.15231 * (1.2 / 1.4) / 1e9
DENSE_GMACS = 1.82e9 / 0.41654 * (1.2 / 1.4) / 1e9
DENSE = {"face_recognition_model"}

# Network runs for a photo with one face (an LFW photo): (model, runs).
# accurate: BlazeFace (one 256 input covers a 250x250 photo), the close-range BlazeFace once, the
# FaceMesh check on each detection (the full- and close-range detections of the face: 2), FaceBoxes
# once; balanced and edge: the short-range BlazeFace finds the face (the later stages of the cascade
# do not run), one FaceMesh check; landmarks: passes x (2 with flip); embedding: components x (2
# with flip).
PROFILES = {
    "accurate": [("blazeface", 1), ("blazeface-front", 1), ("facemesh", 2), ("faceboxes", 1),
                 ("face_landmark_68_model", 4), ("face_recognition_model", 2), ("mobilefacenet-ms1m", 2)],
    "balanced": [("blazeface-front", 1), ("facemesh", 1), ("facerec-landmarks-96", 2),
                 ("face_recognition_model", 1), ("mobilefacenet-ms1m", 1)],
    "edge": [("blazeface-front", 1), ("facemesh", 1), ("facerec-landmarks-96", 2), ("mobilefacenet-ms1m", 1)],
}


def gop(facerec, manifest, model):
    cmd = [facerec] + (["--manifest", manifest] if manifest else []) + ["models", "check", model, "--backend",
                                                                          "reference", "--threads", "1"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()
    head = out[-2].split()
    row = out[-1].split()
    return float(row[head.index("GOP")])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--manifest", default="")
    ap.add_argument("--facerec", default="build/apps/facerec/facerec")
    a = ap.parse_args()
    macs = {}
    for runs in PROFILES.values():
        for m, _ in runs:
            if m not in macs:
                macs[m] = gop(a.facerec, a.manifest, m) / 2 * 1e9
    print(f"Pi 3 model: depthwise nets {DEPTHWISE_GMACS:.2f} GMAC/s, dense nets {DENSE_GMACS:.2f} GMAC/s "
          "(4 threads, from ncnn's Pi 3 figures scaled to 1.2 GHz)")
    print(f"{'network':28s} {'M MACs':>10s}")
    for m, v in macs.items():
        print(f"{m:28s} {v / 1e6:10.1f}")
    print(f"{'profile':10s} {'G MACs':>8s} {'est. ms per face (Pi 3)':>26s}")
    for p, runs in PROFILES.items():
        total = sum(n * macs[m] for m, n in runs)
        ms = sum(n * macs[m] / ((DENSE_GMACS if m in DENSE else DEPTHWISE_GMACS) * 1e9) for m, n in runs) * 1e3
        print(f"{p:10s} {total / 1e9:8.2f} {ms:26.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
