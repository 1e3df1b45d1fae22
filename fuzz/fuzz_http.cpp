// HTTP request handling of the REST service (routes, headers, JSON, multipart, limits, the
// connection layer): the input is sent as raw bytes over loopback to an in-process FaceService
// (the real models; a fast pipeline; a gallery with one person, id 1), the write side is closed,
// and every response read back. A finding: a crash, a 5xx status, or a status line that is not
// HTTP. Needs the imported models ($FACEREC_MODELS, `facerec models fetch`).
#include "fuzz_util.hpp"

#include <facerec/service/service.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>

namespace {

struct Server {
  std::unique_ptr<facerec::FaceService> service;
  std::thread thread;
  int port = 0;
  Server() {
    facerec::ServiceOptions o;
    o.gallery = (facerec::fuzz::scratch() / "serve.db").string();
    std::filesystem::remove(o.gallery);
    o.api_keys = {"fuzz-key-0123456789abcdef"};
    o.max_body_bytes = 1u << 20;
    o.max_pixels = 1'000'000;
    o.pipelines = 1;
    o.head_timeout_s = 2;
    o.analyzer.detector.model = "blazeface";
    o.analyzer.detector.verifier = "none";
    o.analyzer.embedder.zoom = false;
    service = std::make_unique<facerec::FaceService>(o);
    port = service->bind("127.0.0.1", 0);
    thread = std::thread([this] { service->serve(); });
  }
};

Server& server() {
  static Server* s = [] {
    auto* p = new Server();  // lives for the process: libFuzzer exits without unwinding
    // one person (id 1) so that routes with ids reach the gallery
    const char req[] =
        "POST /v1/people HTTP/1.1\r\nHost: x\r\nX-API-Key: fuzz-key-0123456789abcdef\r\nContent-Type: "
        "application/json\r\nContent-Length: 15\r\nConnection: close\r\n\r\n{\"name\": \"ada\"}";
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(p->port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      ::send(fd, req, sizeof req - 1, MSG_NOSIGNAL);
      char buf[4096];
      while (::recv(fd, buf, sizeof buf, 0) > 0) {
      }
    }
    ::close(fd);
    return p;
  }();
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Server& s = server();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(s.port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) std::abort();
  for (size_t off = 0; off < size;) {
    ssize_t w = ::send(fd, data + off, size - off, MSG_NOSIGNAL);
    if (w <= 0) break;  // the server closed early (a limit): fine
    off += size_t(w);
  }
  ::shutdown(fd, SHUT_WR);
  std::string reply;
  char buf[8192];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(600);
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int rc = ::poll(&p, 1, 1000);
    if (rc < 0 && errno == EINTR) continue;  // libFuzzer's timers interrupt system calls
    if (rc <= 0) {
      if (std::chrono::steady_clock::now() < deadline) continue;
      std::fprintf(stderr, "finding: no answer within 600 s\n");
      std::abort();
    }
    ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r <= 0) break;
    reply.append(buf, size_t(r));
  }
  ::close(fd);
  // every status line in the reply (keep-alive may answer several requests)
  for (size_t at = reply.find("HTTP/1.1 "); at != std::string::npos; at = reply.find("\r\nHTTP/1.1 ", at + 1)) {
    size_t code_at = reply[at] == '\r' ? at + 11 : at + 9;
    if (code_at + 3 > reply.size()) break;
    if (reply[code_at] == '5') {
      std::fprintf(stderr, "finding: a 5xx answer:\n%s\n", reply.substr(at, 600).c_str());
      std::abort();
    }
  }
  return 0;
}
