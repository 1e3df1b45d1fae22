// The REST service in-process on a loopback port, through an HTTP client: people, faces,
// identify, verify; API keys; limits; JSON errors that store nothing; concurrent clients; and
// the OpenAPI document against the routes actually served, and every response the tests receive
// against the document's schemas. Needs the models and AT&T faces from ../shared (skips otherwise).
#include "openapi_check.hpp"
#include "test_util.hpp"

#include <facerec/error.hpp>
#include <facerec/image.hpp>
#include <facerec/liveness.hpp>
#include <facerec/service/service.hpp>

#include "common/fs.hpp"

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <atomic>
#include <mutex>
#include <thread>

namespace facerec {
namespace {

using Json = nlohmann::json;
const std::string kKey = "test-key-0123456789abcdef";

std::string att(int person, int photo) {
  return detail::read_file(test::shared_dir() / "data" / "att_faces" / ("s" + std::to_string(person)) /
                           (std::to_string(photo) + ".pgm"));
}

// A service on a loopback port for a test of its own, served until it goes out of scope.
struct Serving {
  FaceService service;
  int port;
  std::thread thread;
  explicit Serving(const ServiceOptions& o) : service(o), port(service.bind("127.0.0.1", 0)) {
    thread = std::thread([this] { service.serve(); });
  }
  ~Serving() {
    service.stop();
    thread.join();
  }
  std::unique_ptr<httplib::Client> client() const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", port);
    c->set_read_timeout(60, 0);
    c->set_default_headers({{"X-API-Key", kKey}});
    return c;
  }
};

class Service : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(test::shared_dir() / "data" / "att_faces" / "s1"))
      GTEST_SKIP() << "../shared/data/att_faces is absent";
    ServiceOptions o;
    o.gallery = (test::temp_dir("service") / "g.db").string();
    o.api_keys = {kKey};
    o.max_body_bytes = 2u << 20;
    o.max_pixels = 4'000'000;
    o.http_threads = 6;
    o.pipelines = 2;
    service_ = std::make_unique<FaceService>(o);
    port_ = service_->bind("127.0.0.1", 0);
    thread_ = std::thread([this] { service_->serve(); });
    client_ = client();
  }
  void TearDown() override {
    if (service_) service_->stop();
    if (thread_.joinable()) thread_.join();
    // every response any client of the test received, against the document the service serves
    if (!IsSkipped()) {
      test::OpenApiCheck doc(Json::parse(FaceService::openapi()));
      for (const auto& r : responses_)
        EXPECT_EQ(doc.response(r.method, r.path, r.status, r.type, r.body), "") << "an undocumented response";
      EXPECT_FALSE(responses_.empty());
    }
  }
  std::unique_ptr<httplib::Client> client(const std::string& key = kKey) {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
    c->set_read_timeout(60, 0);
    if (!key.empty()) c->set_default_headers({{"X-API-Key", key}});
    c->set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      std::lock_guard l(responses_mu_);
      responses_.push_back({req.method, req.path, res.status, res.get_header_value("Content-Type"), res.body});
    });
    return c;
  }
  static Json body(const httplib::Result& r) { return r ? Json::parse(r->body) : Json(); }
  int64_t create(const std::string& name) {
    auto r = client_->Post("/v1/people", Json{{"name", name}}.dump(), "application/json");
    EXPECT_EQ(r->status, 201) << r->body;
    return body(r)["id"].get<int64_t>();
  }
  int templates(int64_t id) { return body(client_->Get("/v1/people/" + std::to_string(id)))["templates"].get<int>(); }

  struct Seen {
    std::string method, path;
    int status;
    std::string type, body;
  };
  std::mutex responses_mu_;
  std::vector<Seen> responses_;
  std::unique_ptr<FaceService> service_;
  std::thread thread_;
  int port_ = 0;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(Service, EnrolIdentifyVerify) {
  EXPECT_EQ(client(std::string())->Get("/v1/health")->status, 200);
  int64_t a = create("s1"), b = create("s2");
  auto r = client_->Post("/v1/people/" + std::to_string(a) + "/faces", att(1, 1), "image/x-portable-graymap");
  ASSERT_EQ(r->status, 201) << r->body;
  EXPECT_EQ(body(r)["person"]["templates"], 1);
  auto box = body(r)["face"]["box"];  // the face that was enrolled, in the photo's pixels (92x112)
  EXPECT_GT(box["width"].get<double>(), 30) << r->body;
  EXPECT_LE(box["x"].get<double>() + box["width"].get<double>(), 92 + 10) << r->body;
  EXPECT_GT(body(r)["face"]["score"].get<double>(), 0.5);
  httplib::MultipartFormDataItems form = {{"image", att(2, 1), "1.pgm", "image/x-portable-graymap"}};
  ASSERT_EQ(client_->Post("/v1/people/" + std::to_string(b) + "/faces", form)->status, 201);

  auto id = body(client_->Post("/v1/identify?top=2", att(1, 6), "application/octet-stream"));
  ASSERT_EQ(id["faces"].size(), 1u) << id;
  EXPECT_EQ(id["faces"][0]["identity"]["name"], "s1") << id;
  EXPECT_EQ(id["faces"][0]["candidates"].size(), 2u);
  auto unknown = body(client_->Post("/v1/identify", att(3, 1), "application/octet-stream"));
  ASSERT_EQ(unknown["faces"].size(), 1u);
  EXPECT_TRUE(unknown["faces"][0]["identity"].is_null()) << unknown;  // s3 is not enrolled

  httplib::MultipartFormDataItems same = {{"a", att(1, 2), "a.pgm", ""}, {"b", att(1, 9), "b.pgm", ""}};
  httplib::MultipartFormDataItems other = {{"a", att(1, 2), "a.pgm", ""}, {"b", att(4, 9), "b.pgm", ""}};
  EXPECT_TRUE(body(client_->Post("/v1/verify", same))["same"].get<bool>());
  EXPECT_FALSE(body(client_->Post("/v1/verify", other))["same"].get<bool>());
  auto vp = body(client_->Post("/v1/verify?person=" + std::to_string(b), att(2, 4), "image/x-portable-graymap"));
  EXPECT_TRUE(vp["same"].get<bool>()) << vp;

  EXPECT_EQ(client_->Delete("/v1/people/" + std::to_string(b))->status, 200);
  EXPECT_EQ(client_->Get("/v1/people/" + std::to_string(b))->status, 404);
  auto list = body(client_->Get("/v1/people"));
  ASSERT_EQ(list["people"].size(), 1u);
  EXPECT_EQ(list["people"][0]["name"], "s1");
  create("s7");
  create("s8");
  auto page = body(client_->Get("/v1/people?offset=1&limit=1"));  // by name: s1, s7, s8
  ASSERT_EQ(page["people"].size(), 1u);
  EXPECT_EQ(page["people"][0]["name"], "s7");
  EXPECT_EQ(page["total"], 3);
  EXPECT_EQ(body(client_->Get("/v1/people?offset=5"))["people"].size(), 0u);
  auto named = body(client_->Get("/v1/people?name=S7"));  // a part of the name, any case
  ASSERT_EQ(named["people"].size(), 1u) << named;
  EXPECT_EQ(named["people"][0]["name"], "s7");
  EXPECT_EQ(named["total"], 1);
  EXPECT_EQ(body(client_->Get("/v1/people?name=s&offset=1&limit=1"))["people"][0]["name"], "s7");
  EXPECT_EQ(body(client_->Get("/v1/people?name=nobody"))["total"], 0);
  EXPECT_EQ(client_->Get("/v1/people?limit=0")->status, 400);
  EXPECT_EQ(client_->Get("/v1/people?limit=abc")->status, 400);
}

TEST_F(Service, BadRequestsGetJsonErrorsAndStoreNothing) {
  int64_t a = create("s1");
  std::string faces = "/v1/people/" + std::to_string(a) + "/faces";
  auto expect_error = [](const httplib::Result& r, int status, const std::string& code) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << r->body;
    auto j = Json::parse(r->body);
    EXPECT_EQ(j["error"]["code"], code) << r->body;
    EXPECT_EQ(j["error"]["status"], status);
    EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
  };
  expect_error(client(std::string())->Get("/v1/people"), 401, "unauthorized");
  expect_error(client("wrong-key-0123456789abcdef")->Get("/v1/people"), 401, "unauthorized");
  expect_error(client_->Post("/v1/people", "{not json", "application/json"), 400, "bad_json");
  expect_error(client_->Post("/v1/people", R"({"metadata": 1})", "application/json"), 400, "bad_request");
  expect_error(client_->Post("/v1/people", R"({"name": "s1"})", "application/json"), 409, "already_exists");
  expect_error(client_->Post(faces, "definitely not an image", "image/jpeg"), 422, "bad_image");
  cv::Mat blank(200, 200, CV_8UC3, cv::Scalar(128, 128, 128));
  std::vector<uchar> png;
  cv::imencode(".png", blank, png);
  expect_error(client_->Post(faces, std::string(png.begin(), png.end()), "image/png"), 422, "no_face");
  cv::Mat big(2100, 2100, CV_8UC3, cv::Scalar(0, 0, 0));  // 4.4 MP > 4 MP limit, small as PNG
  cv::imencode(".png", big, png);
  expect_error(client_->Post(faces, std::string(png.begin(), png.end()), "image/png"), 413, "image_too_large");
  expect_error(client_->Post(faces, std::string(3u << 20, 'x'), "image/jpeg"), 413, "body_too_large");
  expect_error(client_->Post("/v1/people/424242/faces", att(1, 1), "image/jpeg"), 404, "no_person");
  expect_error(client_->Get("/v1/people/abc"), 400, "bad_id");
  expect_error(client_->Delete("/v1/people/424242"), 404, "no_person");
  expect_error(client_->Post("/v1/identify?top=0", att(1, 1), "image/jpeg"), 400, "bad_request");
  expect_error(client_->Post("/v1/identify", "", "image/jpeg"), 400, "missing_image");
  expect_error(client_->Get("/v1/nothing"), 404, "no_route");
  EXPECT_EQ(templates(a), 0) << "failed requests must not store anything";
  EXPECT_EQ(body(client_->Get("/v1/people"))["people"].size(), 1u);
}

TEST_F(Service, ConcurrentClients) {
  int64_t a = create("s1");
  ASSERT_EQ(client_->Post("/v1/people/" + std::to_string(a) + "/faces", att(1, 1), "image/jpeg")->status, 201);
  std::atomic<int> failures{0};
  std::vector<std::thread> ts;
  for (int w = 0; w < 3; ++w)
    ts.emplace_back([&, w] {
      auto c = client();
      for (int i = 0; i < 4; ++i) {
        auto r = c->Post("/v1/identify", att(1, 2 + (w + i) % 8), "image/jpeg");
        if (!r || r->status != 200 || Json::parse(r->body)["faces"][0]["identity"]["name"] != "s1") ++failures;
      }
    });
  for (int w = 0; w < 2; ++w)
    ts.emplace_back([&, w] {
      auto c = client();
      for (int i = 0; i < 3; ++i) {
        int person = 10 + w * 3 + i;
        auto r = c->Post("/v1/people", Json{{"name", "s" + std::to_string(person)}}.dump(), "application/json");
        if (!r || r->status != 201) {
          ++failures;
          continue;
        }
        auto id = Json::parse(r->body)["id"].get<int64_t>();
        auto f = c->Post("/v1/people/" + std::to_string(id) + "/faces", att(person, 1), "image/jpeg");
        if (!f || f->status != 201) ++failures;
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto people = body(client_->Get("/v1/people"))["people"];
  EXPECT_EQ(people.size(), 7u);
  auto id = body(client_->Post("/v1/identify", att(14, 5), "image/jpeg"));
  EXPECT_EQ(id["faces"][0]["identity"]["name"], "s14") << id;
}

// The web console: its page and files load without a key, under a policy that allows scripts and
// styles from this server only; the API's answers are data that no browser may render or sniff.
TEST_F(Service, ConsoleIsServedWithoutAKeyUnderAStrictPolicy) {
  auto anonymous = client(std::string());
  auto page = anonymous->Get("/");
  ASSERT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  std::string csp = page->get_header_value("Content-Security-Policy");
  EXPECT_NE(csp.find("default-src 'none'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe"), std::string::npos) << csp;
  EXPECT_EQ(page->get_header_value("X-Content-Type-Options"), "nosniff");
  // no inline script: every <script> has a src
  for (size_t at = page->body.find("<script"); at != std::string::npos; at = page->body.find("<script", at + 1))
    EXPECT_NE(page->body.substr(at, page->body.find('>', at) - at).find("src="), std::string::npos);
  auto js = anonymous->Get("/console/console.js");
  ASSERT_EQ(js->status, 200);
  EXPECT_EQ(js->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_NE(js->body.find("sessionStorage"), std::string::npos);
  EXPECT_EQ(anonymous->Get("/console/console.css")->status, 200);
  EXPECT_EQ(anonymous->Head("/")->status, 200);
  EXPECT_EQ(client_->Get("/console/other.js")->status, 404);
  EXPECT_EQ(anonymous->Get("/console/other.js")->status, 401);  // what is not served needs a key to learn it
  EXPECT_EQ(anonymous->Get("/v1/people")->status, 401);         // the page is open, the API is not
  auto api = client_->Get("/v1/people");
  EXPECT_EQ(api->get_header_value("Content-Security-Policy"), "default-src 'none'; frame-ancestors 'none'");
  EXPECT_EQ(api->get_header_value("X-Content-Type-Options"), "nosniff");
}

// Both directions: every documented operation is routed (probed over HTTP), and every route the
// service registers is documented and answers (not a 404 for want of a route).
TEST_F(Service, OpenApiDocumentMatchesTheRoutes) {
  auto doc = Json::parse(client_->Get("/openapi.json")->body);
  ASSERT_TRUE(doc.contains("paths"));
  auto routed = [&](const std::string& m, std::string p) {
    if (auto k = p.find("{id}"); k != std::string::npos) p.replace(k, 4, "424242");
    httplib::Result r = m == "get"      ? client_->Get(p)
                        : m == "post"   ? client_->Post(p, "", "application/json")
                        : m == "delete" ? client_->Delete(p)
                        : m == "put"    ? client_->Put(p, "", "application/json")
                                        : client_->Patch(p, "", "application/json");
    EXPECT_TRUE(r) << m << " " << p;
    return r && !(r->status == 404 && r->body.find("no_route") != std::string::npos);
  };
  int documented = 0;
  for (const auto& [path, item] : doc["paths"].items())
    for (std::string m : {"get", "post", "delete", "put", "patch"}) {
      EXPECT_EQ(routed(m, path), item.contains(m)) << m << " " << path;
      documented += item.contains(m);
    }
  auto served = FaceService::routes();
  EXPECT_EQ(size_t(documented), served.size());
  for (const auto& [m, path] : served) {
    EXPECT_TRUE(doc["paths"].contains(path) && doc["paths"][path].contains(m))
        << m << " " << path << " is undocumented";
    EXPECT_TRUE(routed(m, path)) << m << " " << path << " is listed but not served";
  }
}

// Liveness is off unless a request (or the server) asks for it; then every face gets the checker's
// score and decision, in identify and verify (both images) alike.
TEST_F(Service, LivenessOnRequest) {
  if (!std::filesystem::exists(models_dir() / "face-anti-spoofing.onnx"))
    GTEST_SKIP() << "face-anti-spoofing is not imported (`facerec models fetch`)";
  auto plain = body(client_->Post("/v1/identify", att(1, 6), "application/octet-stream"));
  ASSERT_EQ(plain["faces"].size(), 1u) << plain;
  EXPECT_FALSE(plain["faces"][0].contains("liveness")) << "off by default";
  auto live = body(client_->Post("/v1/identify?liveness=true", att(1, 6), "application/octet-stream"));
  ASSERT_EQ(live["faces"].size(), 1u) << live;
  const auto& l = live["faces"][0]["liveness"];
  ASSERT_TRUE(l.is_object()) << live;
  EXPECT_EQ(l["model"], "face-anti-spoofing");
  EXPECT_TRUE(l["score"].is_number());
  EXPECT_EQ(l["live"].get<bool>(), l["score"].get<double>() >= l["threshold"].get<double>()) << l;
  // the checker's own answer for that face
  auto img = decode_image_bytes(att(1, 6)).bgr;
  FaceAnalyzer fa(test::manifest());
  auto faces = fa.analyze(img, false);
  ASSERT_EQ(faces.size(), 1u);
  EXPECT_NEAR(l["score"].get<double>(), make_liveness_checker(test::manifest())->score(img, faces[0].detection.box),
              1e-5);

  httplib::MultipartFormDataItems pair = {{"a", att(1, 2), "a.pgm", ""}, {"b", att(1, 9), "b.pgm", ""}};
  auto v = body(client_->Post("/v1/verify?liveness=1", pair));
  EXPECT_TRUE(v["liveness"]["a"]["score"].is_number()) << v;
  EXPECT_TRUE(v["liveness"]["b"]["score"].is_number()) << v;
  EXPECT_FALSE(body(client_->Post("/v1/verify?liveness=false", pair)).contains("liveness"));
  auto bad = client_->Post("/v1/identify?liveness=maybe", att(1, 6), "application/octet-stream");
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(body(bad)["error"]["code"], "bad_request");
  EXPECT_EQ(body(client_->Get("/v1/version"))["liveness"]["model"], "face-anti-spoofing");
}

// A server set to check liveness cannot start without its model; one that is not set to refuses
// requests asking for it, with a reason.
// A face below the service's quality floor is refused with its quality (nothing stored), unless
// the request forces it; every face the service reports carries its quality.
TEST(ServiceConfig, LowQualityFacesAreRefusedUnlessForced) {
  if (!std::filesystem::exists(test::shared_dir() / "data" / "att_faces" / "s1"))
    GTEST_SKIP() << "../shared/data/att_faces is absent";
  ServiceOptions o;
  o.gallery = (test::temp_dir("service-quality") / "g.db").string();
  o.api_keys = {kKey};
  o.pipelines = 1;
  o.min_quality = 0.999;  // above what an AT&T photo (92x112, grey) gets
  Serving serving(o);
  auto c = serving.client();
  auto person = c->Post("/v1/people", R"({"name": "s1"})", "application/json");
  auto refused = c->Post("/v1/people/1/faces", att(1, 1), "image/x-portable-graymap");
  auto stored = c->Get("/v1/people/1");
  auto bad_flag = c->Post("/v1/people/1/faces?force=maybe", att(1, 1), "image/x-portable-graymap");
  auto forced = c->Post("/v1/people/1/faces?force=true", att(1, 1), "image/x-portable-graymap");
  auto identified = c->Post("/v1/identify", att(1, 2), "image/x-portable-graymap");
  ASSERT_TRUE(person && refused && stored && bad_flag && forced && identified);
  test::OpenApiCheck doc(Json::parse(FaceService::openapi()));
  EXPECT_EQ(refused->status, 422) << refused->body;
  auto e = Json::parse(refused->body)["error"];
  EXPECT_EQ(e["code"], "low_quality");
  EXPECT_NE(e["message"].get<std::string>().find("below the enrolment floor"), std::string::npos) << refused->body;
  EXPECT_DOUBLE_EQ(e["floor"].get<double>(), 0.999);
  EXPECT_LT(e["quality"]["score"].get<double>(), 0.999);
  EXPECT_GT(e["quality"]["interocular"].get<double>(), 10) << refused->body;
  EXPECT_EQ(doc.response("POST", "/v1/people/1/faces", 422, "application/json", refused->body), "");
  EXPECT_EQ(Json::parse(stored->body)["templates"], 0) << "a refused face is not stored";
  EXPECT_EQ(bad_flag->status, 400);
  ASSERT_EQ(forced->status, 201) << forced->body;
  auto added = Json::parse(forced->body);
  EXPECT_EQ(added["person"]["templates"], 1);
  EXPECT_FLOAT_EQ(added["quality"].get<float>(), added["face"]["quality"]["score"].get<float>());
  EXPECT_EQ(doc.response("POST", "/v1/people/1/faces", 201, "application/json", forced->body), "");
  auto faces = Json::parse(identified->body)["faces"];
  ASSERT_EQ(faces.size(), 1u) << identified->body;
  EXPECT_GE(faces[0]["quality"]["score"].get<double>(), 0);
  EXPECT_EQ(doc.response("POST", "/v1/identify", 200, "application/json", identified->body), "");
}

TEST(ServiceConfig, LivenessModelMustBeThereWhenAskedFor) {
  if (!std::filesystem::exists(test::shared_dir() / "data" / "att_faces" / "s1"))
    GTEST_SKIP() << "../shared/data/att_faces is absent";
  ServiceOptions o;
  o.gallery = (test::temp_dir("service-liveness") / "g.db").string();
  o.api_keys = {kKey};
  o.pipelines = 1;
  o.liveness = true;
  o.liveness_options.model = "no-such-model";
  EXPECT_ERROR(FaceService{o}, ErrorKind::NotFound, "no-such-model");
  o.liveness = false;
  Serving serving(o);
  auto r = serving.client()->Post("/v1/identify?liveness=true", att(1, 6), "application/octet-stream");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  auto j = Json::parse(r->body);
  EXPECT_EQ(j["error"]["code"], "liveness_unavailable");
  EXPECT_NE(j["error"]["message"].get<std::string>().find("no-such-model"), std::string::npos) << r->body;
}

TEST(ServiceConfig, RefusesToStartWithoutKeysOrWithWeakKeys) {
  ServiceOptions o;
  o.gallery = (test::temp_dir("service-config") / "g.db").string();
  EXPECT_ERROR(FaceService{o}, ErrorKind::InvalidArgument, "API key");
  o.api_keys = {"short"};
  EXPECT_ERROR(FaceService{o}, ErrorKind::InvalidArgument, "at least 16 characters");
}

// The response check can fail: bodies, statuses, types and routes that the document does not allow.
TEST(OpenApiCheck, FindsWhatTheDocumentDoesNotAllow) {
  test::OpenApiCheck doc(Json::parse(FaceService::openapi()));
  const std::string person = R"({"id": 1, "name": "Ann", "metadata": null, "templates": 0})";
  EXPECT_EQ(doc.response("GET", "/v1/people/1", 200, "application/json", person), "");
  EXPECT_NE(doc.response("GET", "/v1/people/1", 200, "application/json", R"({"id": 1})").find("required"),
            std::string::npos);
  EXPECT_NE(doc.response("GET", "/v1/people/1", 200, "application/json",
                         R"({"id": 1.5, "name": "Ann", "metadata": null, "templates": 0})")
                .find("integer"),
            std::string::npos);
  EXPECT_NE(doc.response("GET", "/v1/people/1", 200, "application/json",
                         R"({"id": 1, "name": "Ann", "metadata": null, "templates": 0, "x": 1})")
                .find("additional"),
            std::string::npos);
  EXPECT_NE(doc.response("GET", "/v1/people/1", 200, "text/plain", "hi").find("content type"), std::string::npos);
  EXPECT_NE(doc.response("PUT", "/v1/people/1", 200, "application/json", "{}").find("not documented"),
            std::string::npos);
  EXPECT_NE(doc.response("GET", "/v2/elsewhere", 200, "application/json", "{}").find("not documented"),
            std::string::npos);
  EXPECT_EQ(doc.response("GET", "/v2/elsewhere", 404, "application/json",
                         R"({"error": {"status": 404, "code": "no_route", "message": "m"}})"),
            "");
  EXPECT_NE(doc.response("POST", "/v1/identify?top=1", 422, "application/json", R"({"error": "text"})"), "");
  const std::string quality = R"({"score": 0.9, "size": 1, "sharpness": 1, "exposure": 1, "pose": 1,
    "interocular": 40, "laplacian": 900, "brightness": 0.5, "contrast": 0.2, "clipped": 0, "yaw": 0, "pitch": 0,
    "roll": 0, "detection": 0.9})";
  const std::string face = R"({"box": {"x": 1, "y": 2, "width": 3, "height": 4}, "score": 0.9, "quality": )" + quality +
                           R"(, "candidates": [], "identity": )";
  const std::string ident = R"({"model": "m", "threshold": 0.5, "operating_point": "fmr_1e-3", "faces": [)";
  EXPECT_EQ(doc.response("POST", "/v1/identify", 200, "application/json", ident + face + "null}]}"), "");
  EXPECT_NE(doc.response("POST", "/v1/identify", 200, "application/json", ident + face + "\"Ann\"}]}").find("oneOf"),
            std::string::npos);
}

}  // namespace
}  // namespace facerec
