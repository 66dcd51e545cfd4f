// Raw TCP clients for the http tests: what a browser library would hide (half headers,
// pipelining, a client that stops reading) is what these tests need to send. Test-only;
// header-only; each call works on its own socket.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace kumo::http::testing {

// A socket connected to 127.0.0.1:port whose reads give up after `receive_timeout`; a
// `receive_buffer` other than 0 shrinks its receive buffer, so that a client that does not
// read fills it soon.
inline int connect_raw(int port, std::chrono::seconds receive_timeout, int receive_buffer = 0) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{receive_timeout.count(), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (receive_buffer > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << errno;
  return fd;
}

inline bool send_all(int fd, std::string_view bytes) {
  return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
         static_cast<ssize_t>(bytes.size());
}

// Reads until `marker` has arrived (an empty marker: until the server closes or the receive
// timeout passes); what was read.
inline std::string read_until(int fd, std::string_view marker) {
  std::string out;
  char buf[4096];
  while (marker.empty() || out.find(marker) == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace kumo::http::testing
