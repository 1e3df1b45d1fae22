// The connection layer of the REST service: one GuardedStream per connection, limits applied as
// the bytes arrive (see guarded_server.hpp).
#include "service/guarded_server.hpp"

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace facerec::detail {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kSlice = std::chrono::milliseconds(100);  // how often a waiting read looks at stop()

std::string reason_phrase(int status) {
  switch (status) {
    case 408:
      return "Request Timeout";
    case 413:
      return "Payload Too Large";
    case 431:
      return "Request Header Fields Too Large";
    default:
      return "Error";
  }
}

std::string address(int fd, bool peer, int& port) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  int rc = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len)
                : getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = 0;
  if (rc != 0) return std::string();
  char buf[INET6_ADDRSTRLEN] = {0};
  if (a.ss_family == AF_INET) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a);
    inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof buf);
    port = ntohs(v4->sin_port);
  } else if (a.ss_family == AF_INET6) {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a);
    inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof buf);
    port = ntohs(v6->sin6_port);
  }
  return buf;
}

class GuardedStream;
thread_local GuardedStream* t_current = nullptr;

class GuardedStream final : public httplib::Stream {
 public:
  GuardedStream(int fd, const ConnectionLimits& lim, const std::atomic<bool>& stopping,
                const std::function<void(const std::string&)>& log)
      : fd_(fd), lim_(lim), stopping_(stopping), log_(log) {}

  // Waits up to the keep-alive timeout for the first byte of a next request.
  bool wait_for_request() {
    if (pos_ < len_) return true;
    return wait(POLLIN, Clock::now() + lim_.keep_alive_timeout);
  }
  void begin_request() {
    head_ = true;
    head_bytes_ = body_bytes_ = 0;
    newlines_ = 0;
    head_deadline_ = Clock::now() + lim_.head_timeout;
  }
  bool should_close() const { return close_ || failed_; }
  // we ended the request early (a rejection, or a refusal before its body was read)
  bool cut_short() const { return responded_ || close_; }
  void close_after_response() { close_ = true; }

  bool is_readable() const override {
    return pos_ < len_ || const_cast<GuardedStream*>(this)->wait(POLLIN, Clock::now() + lim_.read_timeout);
  }
  bool is_writable() const override {
    return !failed_ && const_cast<GuardedStream*>(this)->wait(POLLOUT, Clock::now() + lim_.write_timeout);
  }

  ssize_t read(char* out, size_t n) override {
    if (failed_ || n == 0) return failed_ ? -1 : 0;
    if (pos_ == len_ && !fill()) return -1;
    size_t k = std::min(n, len_ - pos_);
    if (head_) {
      // the head ends at the first empty line (CRLF CRLF, or LF LF)
      for (size_t i = 0; i < k; ++i) {
        char c = buf_[pos_ + i];
        ++head_bytes_;
        if (c == '\n') {
          if (++newlines_ == 2) {
            head_ = false;
            k = i + 1;
            break;
          }
        } else if (c != '\r') {
          newlines_ = 0;
        }
      }
      if (head_ && head_bytes_ > lim_.max_head_bytes) {
        reject(431, "headers_too_large",
               "the request line and headers exceed " + std::to_string(lim_.max_head_bytes) + " bytes");
        return -1;
      }
    } else {
      body_bytes_ += k;
      if (body_bytes_ > lim_.max_body_bytes) {
        reject(413, "body_too_large",
               "request body exceeds the service's limit of " + std::to_string(lim_.max_body_bytes) + " bytes");
        return -1;
      }
    }
    std::memcpy(out, buf_ + pos_, k);
    pos_ += k;
    return ssize_t(k);
  }

  ssize_t write(const char* p, size_t n) override {
    if (responded_) return ssize_t(n);  // a rejection was sent: the server's own answer is dropped
    if (failed_) return -1;
    if (!wait(POLLOUT, Clock::now() + lim_.write_timeout)) return -1;
    ssize_t w = ::send(fd_, p, n, MSG_NOSIGNAL);
    return w < 0 ? -1 : w;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { ip = address(fd_, true, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { ip = address(fd_, false, port); }
  socket_t socket() const override { return fd_; }

 private:
  // Waits for `events` until `deadline` (and, for the head, its deadline), in slices so that a
  // stop is noticed. False on timeout, stop, error or hang-up without data.
  bool wait(short events, Clock::time_point deadline) {
    for (;;) {
      if (stopping_) return false;
      auto now = Clock::now();
      if (now >= deadline) return false;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
      pollfd p{fd_, events, 0};
      int rc = ::poll(&p, 1, int(std::min(left, std::chrono::milliseconds(kSlice)).count()) + 1);
      if (rc > 0) return (p.revents & (events | POLLHUP | POLLERR)) != 0;
      if (rc < 0 && errno != EINTR) return false;
    }
  }

  bool fill() {
    pos_ = len_ = 0;
    auto deadline = head_ ? head_deadline_ : Clock::now() + lim_.read_timeout;
    if (!wait(POLLIN, deadline)) {
      if (head_ && head_bytes_ > 0 && !stopping_ && Clock::now() >= head_deadline_)
        reject(408, "request_timeout",
               "the request head did not arrive within " + std::to_string(lim_.head_timeout.count()) + " ms");
      failed_ = true;
      return false;
    }
    ssize_t r = ::recv(fd_, buf_, sizeof buf_, 0);
    if (r <= 0) {
      failed_ = true;
      return false;
    }
    len_ = size_t(r);
    return true;
  }

  void reject(int status, const std::string& code, const std::string& message) {
    if (!responded_) {
      std::string body = GuardedServer::error_json(status, code, message);
      std::string r =
          "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) +
          "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\n\r\n" + body;
      ::send(fd_, r.data(), r.size(), MSG_NOSIGNAL | MSG_DONTWAIT);  // best effort: the peer may not read
      int port = 0;
      std::string ip = address(fd_, true, port);
      if (log_) log_("- - " + std::to_string(status) + " " + ip + " " + code);
    }
    responded_ = failed_ = close_ = true;
  }

  int fd_;
  const ConnectionLimits& lim_;
  const std::atomic<bool>& stopping_;
  const std::function<void(const std::string&)>& log_;
  char buf_[4096];
  size_t pos_ = 0, len_ = 0;
  bool head_ = true;
  size_t head_bytes_ = 0, body_bytes_ = 0;
  int newlines_ = 0;
  Clock::time_point head_deadline_{};
  bool failed_ = false, responded_ = false, close_ = false;
};

}  // namespace

GuardedServer::GuardedServer(ConnectionLimits limits, std::function<void(const std::string&)> reject_log)
    : limits_(limits), reject_log_(std::move(reject_log)) {
  set_payload_max_length(limits_.max_body_bytes);
  set_socket_options([](socket_t sock) {  // SO_REUSEADDR only: never share the port with another server
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
}

void GuardedServer::begin_stop() {
  stopping_ = true;
  stop();
}

void GuardedServer::close_after_response() {
  if (t_current) t_current->close_after_response();
}

std::string GuardedServer::error_json(int status, const std::string& code, const std::string& message) {
  nlohmann::json j{{"error", {{"status", status}, {"code", code}, {"message", message}}}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool GuardedServer::process_and_close_socket(socket_t sock) {
  GuardedStream strm(sock, limits_, stopping_, reject_log_);
  t_current = &strm;
  bool ok = true;
  for (size_t left = limits_.keep_alive_max; left > 0 && !stopping_; --left) {
    if (!strm.wait_for_request()) break;
    strm.begin_request();
    bool closed = false;
    ok = process_request(strm, left == 1, closed, [](httplib::Request&) {});
    if (!ok || closed || strm.should_close()) break;
  }
  t_current = nullptr;
  if (strm.cut_short()) {
    // lingering close: let the rejection reach a client that is still sending (closing with unread
    // data would reset the connection and lose the response); at most 0.5 s and 4 MiB
    ::shutdown(sock, SHUT_WR);
    auto until = Clock::now() + std::chrono::milliseconds(500);
    char sink[4096];
    for (size_t drained = 0; drained < (4u << 20) && Clock::now() < until && !stopping_;) {
      pollfd p{sock, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      ssize_t r = ::recv(sock, sink, sizeof sink, 0);
      if (r <= 0) break;
      drained += size_t(r);
    }
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ok;
}

std::string log_escape(const std::string& s, size_t max_length) {
  std::string out;
  for (size_t i = 0; i < s.size() && out.size() < max_length; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '\\' || c == '"') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20 || c == 0x7F || c >= 0x80) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    } else {
      out += char(c);
    }
  }
  if (out.size() >= max_length) out += "...";
  return out;
}

}  // namespace facerec::detail
