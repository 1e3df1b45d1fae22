#pragma once
// An httplib::Server whose connections are read through limits that hold before memory or
// threads are spent: the request head (request line + headers) must arrive whole within a
// deadline and a byte budget, a request body may not exceed a raw byte budget (whatever its
// framing: Content-Length or chunked), reads and writes give up on stop(), and the listening
// socket is exclusive (no SO_REUSEPORT: a second server on the same port fails to bind).
// A request over a limit gets its JSON error (408, 413, 431) and the connection is closed.
//
// Thread safety: as httplib::Server; begin_stop() may be called from any thread.
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>

namespace facerec::detail {

struct ConnectionLimits {
  size_t max_head_bytes = 64 * 1024;                    // request line + headers
  std::chrono::milliseconds head_timeout{10'000};       // the whole head, from its first byte
  size_t max_body_bytes = 10u << 20;                    // raw body bytes of one request (framing included)
  std::chrono::milliseconds read_timeout{30'000};       // a body read that sees no byte for this long fails
  std::chrono::milliseconds write_timeout{30'000};      // a response write that cannot proceed for this long
  std::chrono::milliseconds keep_alive_timeout{5'000};  // idle time between requests on one connection
  size_t keep_alive_max = 100;                          // requests per connection
};

class GuardedServer : public httplib::Server {
 public:
  // `reject_log` receives one line per connection-level rejection (status, client, reason).
  GuardedServer(ConnectionLimits limits, std::function<void(const std::string&)> reject_log);
  // Makes pending reads and writes fail within 0.1 s, then stops the server.
  void begin_stop();
  // From a handler or the pre-routing handler: close the connection after this response (the
  // body that was not read must not be parsed as a next request).
  static void close_after_response();
  // A JSON error body {"error": {"status", "code", "message"}} (invalid UTF-8 replaced).
  static std::string error_json(int status, const std::string& code, const std::string& message);

 private:
  bool process_and_close_socket(socket_t sock) override;
  ConnectionLimits limits_;
  std::function<void(const std::string&)> reject_log_;
  std::atomic<bool> stopping_{false};
};

// `s` with control characters, quotes and backslashes escaped (\n, \x1b, ...), for log lines
// that a client's bytes cannot forge or break.
std::string log_escape(const std::string& s, size_t max_length = 512);

}  // namespace facerec::detail
