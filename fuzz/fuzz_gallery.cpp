// Gallery files: the input is written as an SQLite file and opened as a gallery (never created:
// create = false), then read the way every command reads it: people, templates with crops, model,
// revision, one lookup. A damaged or foreign file must give facerec::Error.
#include "fuzz_util.hpp"

#include <facerec/gallery/gallery.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  auto path = facerec::fuzz::scratch() / "g.db";
  for (const char* extra : {"-wal", "-shm"}) fs::remove(path.string() + extra);
  facerec::fuzz::write_file(path, data, size);
  facerec::fuzz::expect_only_errors([&] {
    auto s = facerec::open_store(path.string(), /*create=*/false);
    auto people = s->list();
    s->templates(true);
    s->model();
    s->revision();
    if (!people.empty()) s->get(people[0].id);
  });
  return 0;
}
