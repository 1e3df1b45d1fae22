// Gallery: a store plus a search index kept in step with it, safe for concurrent use.
#include "common/dot.hpp"
#include "common/fs.hpp"
#include "gallery/store_common.hpp"

#include <facerec/error.hpp>
#include <facerec/gallery/gallery.hpp>
#include <facerec/gallery/index.hpp>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

namespace facerec {

struct Gallery::Snapshot {
  int64_t revision = 0;
  std::vector<StoredTemplate> all;  // id order
  std::vector<Identity> people;
};

std::unique_ptr<GalleryStore> open_store(const std::string& url, bool create) {
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) return open_postgres_store(url, create);
  std::string path = url;
  if (path.rfind("sqlite:", 0) == 0)
    path = path.substr(7);
  else if (path.find("://") != std::string::npos)
    throw Error(ErrorKind::InvalidArgument,
                "gallery URL scheme not supported: " + url + " (use a SQLite file path or postgresql://...)");
  if (path.empty()) throw Error(ErrorKind::InvalidArgument, "empty gallery path");
  return open_sqlite_store(path, create);
}

Gallery::Gallery(const std::string& url, GalleryOptions options)
    : store_(open_store(url, options.create)), options_(std::move(options)) {
  // validate the factory string now rather than at the first build; the dimension is not known yet
  // and some indexes constrain it (PQ32 needs a multiple of 32), so any common one will do
  std::optional<Error> first;
  bool ok = false;
  for (int dim : {128, 512, 256, 64, 8}) {
    try {
      make_index(options_.index, dim);
      ok = true;
      break;
    } catch (const Error& e) {
      if (!first) first = e;
    }
  }
  if (!ok) throw *first;
  std::unique_lock lock(mu_);
  refresh_index();
}

Gallery::~Gallery() {
  try {
    std::unique_lock lock(mu_);
    if (dirty_) save_index_file();
  } catch (...) {  // a destructor must not throw; the index is rebuilt next time
  }
}

GalleryStore& Gallery::store() {
  std::unique_lock lock(mu_);
  stale_ = true;
  return *store_;
}

int64_t Gallery::enroll(const std::string& name, const std::string& metadata, const std::vector<Template>& templates) {
  std::unique_lock lock(mu_);
  refresh_index();
  std::vector<int64_t> ids;
  int64_t id;
  {
    std::lock_guard s(store_mu_);
    id = store_->enroll(name, metadata, templates, &ids);
  }
  index_added(id, name, templates, ids);
  return id;
}

void Gallery::add_faces(int64_t identity_id, const std::vector<Template>& templates) {
  std::unique_lock lock(mu_);
  refresh_index();
  std::vector<int64_t> ids;
  std::string name;
  {
    std::lock_guard s(store_mu_);
    store_->add_templates(identity_id, templates, &ids);
    auto p = store_->get(identity_id);
    name = p ? p->name : std::string();
  }
  index_added(identity_id, name, templates, ids);
}

void Gallery::index_added(int64_t id, const std::string& name, const std::vector<Template>& templates,
                          const std::vector<int64_t>& ids) {
  names_[id] = name;
  if (model_.empty()) model_ = templates[0].model;
  if (!index_ || index_->size() == 0) {
    stale_ = true;  // the first templates decide the dimension: build
    refresh_index();
    return;
  }
  std::vector<float> x;
  for (const auto& t : templates) x.insert(x.end(), t.embedding.begin(), t.embedding.end());
  index_->add(ids.data(), x.data(), ids.size());
  for (int64_t t : ids) owner_[t] = id;
  max_template_id_ = std::max(max_template_id_, ids.back());
  {
    std::lock_guard s(store_mu_);
    // our change alone moved the revision by one; anything more came from another writer,
    // whose changes this index does not hold yet: rebuild at the next search
    if (store_->revision() == revision_ + 1)
      revision_ += 1;
    else
      stale_ = true;
  }
  dirty_ = true;
}

int64_t Gallery::create(const std::string& name, const std::string& metadata) {
  std::unique_lock lock(mu_);
  int64_t id;
  {
    std::lock_guard s(store_mu_);
    id = store_->create(name, metadata);
    if (revision_ + 1 == store_->revision())
      revision_ += 1;  // nothing else changed
    else
      stale_ = true;
  }
  names_[id] = name;
  return id;
}

std::optional<float> Gallery::best_similarity(int64_t identity_id, const std::vector<float>& e,
                                              const std::string& model) {
  std::vector<StoredTemplate> ts;
  {
    std::lock_guard s(store_mu_);
    ts = store_->templates_of(identity_id);
  }
  std::optional<float> best;
  for (const auto& st : ts) {
    if (st.t.model != model)
      throw Error(ErrorKind::InvalidArgument, "the gallery holds " + st.t.model + " templates; the probe is " + model);
    if (st.t.embedding.size() != e.size())
      throw Error(ErrorKind::InvalidArgument, "probe dimension differs from the gallery's");
    float d = detail::dot(e.data(), st.t.embedding.data(), e.size());
    best = best ? std::max(*best, d) : d;
  }
  return best;
}

bool Gallery::remove(int64_t identity_id) {
  std::unique_lock lock(mu_);
  bool removed;
  {
    std::lock_guard s(store_mu_);
    removed = store_->remove(identity_id);
  }
  if (removed) {
    stale_ = true;  // indexes cannot drop vectors cheaply (HNSW): rebuild
    refresh_index();
  }
  return removed;
}

std::vector<Identity> Gallery::list() {
  std::lock_guard s(store_mu_);
  return store_->list();
}

std::optional<Identity> Gallery::get(int64_t identity_id) {
  std::lock_guard s(store_mu_);
  return store_->get(identity_id);
}

std::optional<Identity> Gallery::find_name(const std::string& name) {
  std::lock_guard s(store_mu_);
  return store_->find_name(name);
}

Identification Gallery::identify(const std::vector<float>& embedding, const std::string& model, int k,
                                 double threshold) {
  Identification out;
  out.threshold = threshold;
  out.candidates = search(embedding, model, k);
  if (!out.candidates.empty() && out.candidates[0].similarity >= threshold) out.identity = out.candidates[0];
  return out;
}

std::string Gallery::model() {
  std::shared_lock lock(mu_);
  return model_;
}

size_t Gallery::size() {
  std::shared_lock lock(mu_);
  return index_ ? index_->size() : 0;
}

std::string Gallery::index_description() {
  std::shared_lock lock(mu_);
  return index_note_.empty() ? options_.index : index_note_;
}

bool Gallery::index_current() {
  if (stale_) return false;
  std::lock_guard s(store_mu_);
  return store_->revision() == revision_;  // another process may have changed the store
}

void Gallery::refresh_index() {
  if (!stale_) {
    int64_t rev;
    std::vector<StoredTemplate> added;
    {
      std::lock_guard s(store_mu_);
      rev = store_->revision();
      if (rev == revision_) return;
      added = store_->templates(false, max_template_id_);
    }
    // only additions since our snapshot can be applied in place; anything else rebuilds
    size_t expected = 0;
    for (const auto& st : added) expected += st.t.model == model_ && int(st.t.embedding.size()) == dim_ ? 1 : 0;
    std::vector<Identity> people;
    {
      std::lock_guard s(store_mu_);
      people = store_->list();
    }
    size_t total = 0;
    for (const auto& p : people) total += size_t(p.templates);
    if (index_ && index_->size() > 0 && expected == added.size() && total == index_->size() + added.size()) {
      for (const auto& p : people) names_[p.id] = p.name;
      for (const auto& st : added) {
        index_->add(&st.id, st.t.embedding.data(), 1);
        owner_[st.id] = st.identity_id;
        max_template_id_ = std::max(max_template_id_, st.id);
      }
      revision_ = rev;
      dirty_ = dirty_ || !added.empty();
      return;
    }
  }
  Snapshot snap;
  {
    std::lock_guard s(store_mu_);
    snap.revision = store_->revision();
    snap.all = store_->templates();
    snap.people = store_->list();
  }
  if (!load_index_file(snap)) rebuild_index(snap);
  stale_ = false;
}

void Gallery::adopt(const Snapshot& snap) {
  names_.clear();
  owner_.clear();
  for (const auto& p : snap.people) names_[p.id] = p.name;
  for (const auto& st : snap.all) owner_[st.id] = st.identity_id;
  model_ = snap.all.empty() ? std::string() : snap.all[0].t.model;
  dim_ = snap.all.empty() ? 0 : int(snap.all[0].t.embedding.size());
  max_template_id_ = snap.all.empty() ? 0 : snap.all.back().id;
  revision_ = snap.revision;
}

void Gallery::rebuild_index(const Snapshot& snap) {
  adopt(snap);
  const auto& all = snap.all;
  index_.reset();
  index_note_.clear();
  if (all.empty()) return;
  std::vector<float> x;
  std::vector<int64_t> ids;
  x.reserve(all.size() * size_t(dim_));
  for (const auto& st : all) {
    x.insert(x.end(), st.t.embedding.begin(), st.t.embedding.end());
    ids.push_back(st.id);
  }
  size_t need = training_size(options_.index);
  if (need > all.size()) {
    index_ = make_index("Flat", dim_);
    index_note_ = "Flat (" + options_.index + " needs " + std::to_string(need) + " templates to train; " +
                  std::to_string(all.size()) + " stored)";
  } else {
    index_ = make_index(options_.index, dim_);
    if (!index_->is_trained()) index_->train(x.data(), all.size());
  }
  index_->add(ids.data(), x.data(), ids.size());
  if (options_.log)
    options_.log("gallery index " + (index_note_.empty() ? options_.index : index_note_) + " built over " +
                 std::to_string(ids.size()) + " templates");
  dirty_ = true;
  save_index_file();
}

// Index file: "FRGI", u32 version 1, revision, max template id, template count, model, then the
// SearchIndex file (index.hpp). Loaded only when revision and count match the store.
bool Gallery::load_index_file(const Snapshot& snap) {
  if (options_.index_file.empty()) return false;
  std::ifstream in(options_.index_file, std::ios::binary);
  if (!in) return false;
  try {
    char magic[4];
    uint32_t version = 0;
    int64_t rev = 0, max_id = 0;
    uint64_t count = 0, model_len = 0;
    in.read(magic, 4);
    in.read(reinterpret_cast<char*>(&version), 4);
    in.read(reinterpret_cast<char*>(&rev), 8);
    in.read(reinterpret_cast<char*>(&max_id), 8);
    in.read(reinterpret_cast<char*>(&count), 8);
    in.read(reinterpret_cast<char*>(&model_len), 8);
    if (!in || std::memcmp(magic, "FRGI", 4) != 0 || version != 1 || model_len > 4096) return false;
    std::string model(model_len, '\0');
    in.read(model.data(), std::streamsize(model_len));
    const auto& all = snap.all;
    if (snap.revision != rev || all.size() != count || all.empty() || all.back().id != max_id ||
        all[0].t.model != model)
      return false;
    auto ix = load_index(in);
    if (ix->size() != count || ix->description() != canonical_index_factory(options_.index)) return false;
    index_ = std::move(ix);
    adopt(snap);
    index_note_.clear();
    dirty_ = false;
    if (options_.log)
      options_.log("gallery index " + options_.index + " loaded from " + options_.index_file + " (" +
                   std::to_string(count) + " templates)");
    return true;
  } catch (const Error&) {
    return false;  // unreadable or foreign: rebuilt
  }
}

void Gallery::save_index_file() {
  if (options_.index_file.empty() || !index_ || !index_note_.empty()) return;
  std::ostringstream o;
  uint32_t version = 1;
  uint64_t count = index_->size(), model_len = model_.size();
  o.write("FRGI", 4);
  o.write(reinterpret_cast<const char*>(&version), 4);
  o.write(reinterpret_cast<const char*>(&revision_), 8);
  o.write(reinterpret_cast<const char*>(&max_template_id_), 8);
  o.write(reinterpret_cast<const char*>(&count), 8);
  o.write(reinterpret_cast<const char*>(&model_len), 8);
  o.write(model_.data(), std::streamsize(model_len));
  save_index(*index_, o);
  detail::write_file_atomic(options_.index_file, o.str());
  dirty_ = false;
}

std::vector<Candidate> Gallery::search(const std::vector<float>& q, const std::string& model, int k) {
  std::shared_lock lock(mu_);
  if (!index_current()) {
    lock.unlock();
    {
      std::unique_lock ex(mu_);
      refresh_index();
    }
    lock.lock();
  }
  if (!index_ || index_->size() == 0) return {};
  if (model != model_)
    throw Error(ErrorKind::InvalidArgument, "the gallery holds " + model_ + " templates; the probe is " + model);
  if (int(q.size()) != dim_)
    throw Error(ErrorKind::InvalidArgument,
                "probe dimension " + std::to_string(q.size()) + " differs from the gallery's " + std::to_string(dim_));
  if (k <= 0) k = 1;
  // fetch templates until k identities are covered (or everything was fetched)
  size_t fetch = std::min(index_->size(), size_t(std::max(64, 8 * k)));
  std::vector<Candidate> out;
  for (;;) {
    auto hits = index_->search(q.data(), int(fetch));
    std::map<int64_t, float> best;
    for (const auto& h : hits) {
      if (h.id < 0) continue;
      auto o = owner_.find(h.id);
      if (o == owner_.end()) continue;
      auto it = best.find(o->second);
      if (it == best.end() || h.score > it->second) best[o->second] = h.score;
    }
    out.clear();
    for (const auto& [id, s] : best) {
      auto n = names_.find(id);
      out.push_back({id, n == names_.end() ? std::string() : n->second, s});
    }
    if (out.size() >= size_t(k) || fetch >= index_->size()) break;
    fetch = std::min(index_->size(), fetch * 4);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.similarity > b.similarity || (a.similarity == b.similarity && a.identity_id < b.identity_id);
  });
  if (out.size() > size_t(k)) out.resize(size_t(k));
  return out;
}

size_t Gallery::reembed(const std::string& model, const CropEmbedder& embed,
                        const std::function<void(size_t, size_t)>& progress) {
  std::unique_lock lock(mu_);
  std::vector<StoredTemplate> all;
  {
    std::lock_guard s(store_mu_);
    all = store_->templates(true);
  }
  std::vector<int64_t> missing;
  for (const auto& st : all)
    if (st.t.crop.jpeg.empty()) missing.push_back(st.id);
  if (!missing.empty()) {
    std::string ids;
    for (size_t i = 0; i < std::min<size_t>(missing.size(), 10); ++i)
      ids += (i ? ", " : "") + std::to_string(missing[i]);
    throw Error(ErrorKind::InvalidArgument,
                std::to_string(missing.size()) + " of " + std::to_string(all.size()) +
                    " templates were enrolled without a face crop (templates " + ids +
                    (missing.size() > 10 ? ", ..." : "") +
                    "), so they cannot be re-embedded; enrol those people again. Nothing was changed.");
  }
  std::map<int64_t, std::vector<float>> e;
  for (size_t i = 0; i < all.size(); ++i) {
    e[all[i].id] = embed(all[i].t.crop);
    if (progress) progress(i + 1, all.size());
  }
  {
    std::lock_guard s(store_mu_);
    store_->replace_embeddings(model, e);
  }
  stale_ = true;
  refresh_index();
  return all.size();
}

}  // namespace facerec
