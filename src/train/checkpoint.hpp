#pragma once
// Checkpoints and the log of a run, one home for the trainers (trainer.cpp, landmark_trainer.cpp):
// <run>/checkpoints/step-<n>.pt (a libtorch archive) with step-<n>.json beside it (the sha256 of
// the .pt and what the trainer records). A checkpoint counts only when its .pt matches that sha256.
// Internal (not installed). Thread safety: pure functions over files.
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace facerec::train::ckpt {

std::filesystem::path checkpoint_path(const std::filesystem::path& run, int64_t step);
// Every step-<n>.pt of the run, by step (intact or not).
std::vector<std::pair<int64_t, std::filesystem::path>> checkpoints(const std::filesystem::path& run);
bool checkpoint_intact(const std::filesystem::path& pt);
// Throws Error(BadModel) naming the file for a corrupt or truncated archive.
torch::serialize::InputArchive open_archive(const std::filesystem::path& file);
// Loads part `what` of a checkpoint into `m`, checking every tensor's shape (libtorch would
// silently replace a tensor of another shape). Throws Error(BadModel) naming the file and part.
void read_part(const std::filesystem::path& file, torch::serialize::InputArchive& ar, const std::string& what,
               torch::nn::Module& m);
// Saves `ar` as `pt` (through a temporary file), then `meta` plus the archive's sha256 as the .json
// beside it, and removes the run's oldest checkpoints beyond the newest `keep`.
void write_checkpoint(const std::filesystem::path& pt, torch::serialize::OutputArchive& ar, nlohmann::json meta,
                      int keep);
// The lines of a run's log.jsonl that parse as JSON, in order (a line cut short by a crash is skipped).
std::vector<nlohmann::json> read_log(const std::filesystem::path& file);
// A 64-bit mix of two values (seeds per step and slot).
uint64_t mix(uint64_t a, uint64_t b);

}  // namespace facerec::train::ckpt
